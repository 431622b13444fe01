"""multi-head results, out-of-scope flag and detected language

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_results") as batch:
        batch.add_column(sa.Column("out_of_scope", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("heads", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))
        batch.add_column(sa.Column("language_supported", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_results") as batch:
        batch.drop_column("language_supported")
        batch.drop_column("language")
        batch.drop_column("heads")
        batch.drop_column("out_of_scope")
