"""shadow drafts: a candidate generator's drafts of live tickets, scored against the agents' replies

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from shared.db.base import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_drafts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.String(32), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("generator_version", sa.String(64), nullable=False),
        sa.Column("active_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("intent", sa.String(100)),
        sa.Column("language", sa.String(16)),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("chrf", sa.Float()),
        sa.Column("edit_distance", sa.Float()),
        sa.Column("active_outcome", sa.String(16)),
        sa.Column("active_chrf", sa.Float()),
        sa.Column("scored_at", UTCDateTime()),
        sa.UniqueConstraint("ticket_id", "generator_version", name="uq_shadow_draft_ticket_generator"),
    )
    op.create_index("ix_shadow_drafts_ticket_id", "shadow_drafts", ["ticket_id"])
    op.create_index("ix_shadow_drafts_generator_version", "shadow_drafts", ["generator_version"])
    op.create_index("ix_shadow_drafts_created_at", "shadow_drafts", ["created_at"])


def downgrade() -> None:
    op.drop_table("shadow_drafts")
