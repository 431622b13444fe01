"""console indexes: the inbox pages tickets newest first (keyset on received_at, id), filters by the
predicted intent, finds a customer's tickets by e-mail, and the review queue takes the lowest
confidences first

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_received_at_id", "tickets", ["received_at", "id"])
    op.create_index("ix_tickets_customer_email", "tickets", ["customer_email"])
    op.create_index("ix_triage_results_label", "triage_results", ["label"])
    op.create_index("ix_triage_results_confidence", "triage_results", ["confidence"])


def downgrade() -> None:
    op.drop_index("ix_triage_results_confidence", table_name="triage_results")
    op.drop_index("ix_triage_results_label", table_name="triage_results")
    op.drop_index("ix_tickets_customer_email", table_name="tickets")
    op.drop_index("ix_tickets_received_at_id", table_name="tickets")
