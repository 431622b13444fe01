"""routing decisions, write-back deliveries, resolution feedback

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from shared.db.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ticket_fk() -> sa.Column:
    return sa.Column(
        "ticket_id", sa.String(32), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "routing_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ticket_fk(),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "triage_result_id",
            sa.Integer(),
            sa.ForeignKey("triage_results.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("drafts.id", ondelete="SET NULL")),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_routing_decisions_ticket_id", "routing_decisions", ["ticket_id"])
    op.create_index("ix_routing_decisions_route", "routing_decisions", ["route"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ticket_fk(),
        sa.Column(
            "routing_decision_id",
            sa.Integer(),
            sa.ForeignKey("routing_decisions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("integration", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("remote_id", sa.String(200)),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
    )
    op.create_index("ix_deliveries_ticket_id", "deliveries", ["ticket_id"])
    op.create_index("ix_deliveries_status", "deliveries", ["status"])
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.String(32),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("final_labels", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text()),
        sa.Column("triage_result_id", sa.Integer(), sa.ForeignKey("triage_results.id", ondelete="SET NULL")),
        sa.Column("model_version", sa.String(64)),
        sa.Column("predicted_label", sa.String(100)),
        sa.Column("predicted_confidence", sa.Float()),
        sa.Column("correct", sa.Boolean()),
        sa.Column("resolved_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("resolutions")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_index("ix_deliveries_ticket_id", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_routing_decisions_route", table_name="routing_decisions")
    op.drop_index("ix_routing_decisions_ticket_id", table_name="routing_decisions")
    op.drop_table("routing_decisions")
