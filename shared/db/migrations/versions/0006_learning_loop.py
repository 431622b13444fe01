"""learning loop: training runs, batch jobs and their chunks, shadow predictions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from shared.db.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _training_runs() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("active_version", sa.String(64)),
        sa.Column("candidate_version", sa.String(64)),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("dataset", sa.JSON()),
        sa.Column("report", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_training_runs_status", "training_runs", ["status"])
    op.create_index("ix_training_runs_requested_at", "training_runs", ["requested_at"])


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("total_items", sa.Integer(), nullable=False),
        sa.Column("total_chunks", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "job_chunks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float()),
        sa.Column("done_at", UTCDateTime()),
        sa.UniqueConstraint("job_id", "position", name="uq_job_chunks_job_position"),
    )
    op.create_index("ix_job_chunks_job_id", "job_chunks", ["job_id"])
    op.create_index("ix_job_chunks_done", "job_chunks", ["done"])


def _shadow_predictions() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.String(32), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("active_version", sa.String(64), nullable=False),
        sa.Column("active_label", sa.String(100), nullable=False),
        sa.Column("inference_ms", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("ticket_id", "model_version", name="uq_shadow_ticket_model"),
    )
    op.create_index("ix_shadow_predictions_ticket_id", "shadow_predictions", ["ticket_id"])
    op.create_index("ix_shadow_predictions_model_version", "shadow_predictions", ["model_version"])


def upgrade() -> None:
    _training_runs()
    _jobs()
    _shadow_predictions()


def downgrade() -> None:
    op.drop_table("shadow_predictions")
    op.drop_table("job_chunks")
    op.drop_table("jobs")
    op.drop_table("training_runs")
