"""ticket attributes: what the helpdesk knows of the customer or order (plan, order ids, locale)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("attributes")
