"""draft adoption: what agents did with each draft (sent as is, edited, discarded)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from shared.db.base import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_adoptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.String(32),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("drafts.id", ondelete="SET NULL")),
        sa.Column("generator_version", sa.String(64), nullable=False),
        sa.Column("draft_source", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(100)),
        sa.Column("language", sa.String(16)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("chrf", sa.Float(), nullable=False),
        sa.Column("edit_distance", sa.Float(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_draft_adoptions_generator_version", "draft_adoptions", ["generator_version"])
    op.create_index("ix_draft_adoptions_resolved_at", "draft_adoptions", ["resolved_at"])


def downgrade() -> None:
    op.drop_table("draft_adoptions")
