"""tickets and triage results

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from shared.db.base import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("customer_email", sa.String(320)),
        sa.Column("customer_name", sa.String(200)),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("queued_at", UTCDateTime()),
        sa.Column("triaged_at", UTCDateTime()),
        sa.UniqueConstraint("source", "event_id", name="uq_tickets_source_event"),
    )
    op.create_index("ix_tickets_external_id", "tickets", ["external_id"])
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_table(
        "triage_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.String(32), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("top_k", sa.JSON(), nullable=False),
        sa.Column("inference_ms", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("ticket_id", "model_version", name="uq_triage_ticket_model"),
    )
    op.create_index("ix_triage_results_ticket_id", "triage_results", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_triage_results_ticket_id", table_name="triage_results")
    op.drop_table("triage_results")
    op.drop_index("ix_tickets_status", table_name="tickets")
    op.drop_index("ix_tickets_external_id", table_name="tickets")
    op.drop_table("tickets")
