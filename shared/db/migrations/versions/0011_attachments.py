"""attachments: the files a ticket came with and the text read from them; a triage result says how many
attachments' text its input held (a re-classification after they were read is a second result)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from shared.db.base import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.String(32), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("declared_type", sa.String(100)),
        sa.Column("url", sa.Text()),
        sa.Column("content", sa.LargeBinary()),
        sa.Column("size", sa.Integer()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("kind", sa.String(100)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("engine", sa.String(64)),
        sa.Column("text", sa.Text()),
        sa.Column("confidence", sa.Float()),
        sa.Column("language", sa.String(16)),
        sa.Column("details", sa.JSON()),
        sa.Column("error", sa.String(64)),
        sa.Column("error_detail", sa.Text()),
        sa.Column("weighed", sa.String(16)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("extracted_at", UTCDateTime()),
    )
    op.create_index("ix_attachments_ticket_id", "attachments", ["ticket_id"])
    op.create_index("ix_attachments_status", "attachments", ["status"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("attachment_decision", sa.String(16)))
    with op.batch_alter_table("triage_results") as batch:
        batch.add_column(sa.Column("attachments_used", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_triage_ticket_model", type_="unique")
        batch.create_unique_constraint(
            "uq_triage_ticket_model", ["ticket_id", "model_version", "attachments_used"]
        )


def downgrade() -> None:
    with op.batch_alter_table("triage_results") as batch:
        batch.drop_constraint("uq_triage_ticket_model", type_="unique")
        batch.execute("DELETE FROM triage_results WHERE attachments_used > 0")
        batch.create_unique_constraint("uq_triage_ticket_model", ["ticket_id", "model_version"])
        batch.drop_column("attachments_used")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("attachment_decision")
    op.drop_table("attachments")
