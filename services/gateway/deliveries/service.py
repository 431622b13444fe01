"""List write-back deliveries and put dead letters back in line (keyword-only, no HTTP)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.tickets.service import delivery_view
from shared.celery_app import TASK_WRITEBACK
from shared.db import session_scope
from shared.integrations.models import Delivery, DeliveryStatus
from shared.integrations.schemas import DeliveryView
from shared.outbox.models import OutboxMessage
from shared.outbox.service import add_message


def list_deliveries(
    *, session_factory: sessionmaker[Session], status: str | None, limit: int
) -> list[DeliveryView]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        query = query.where(Delivery.status == status)
    with session_scope(session_factory) as session:
        return [delivery_view(row) for row in session.scalars(query)]


def requeue_dead_letter(
    *, session_factory: sessionmaker[Session], delivery_id: int
) -> tuple[DeliveryView, OutboxMessage | None] | None:
    """A dead delivery becomes pending again with one attempt on record, so the worker first checks
    whether an earlier attempt reached the helpdesk before posting. A pending delivery gets its outbox
    message in the same transaction (returned, to publish after the commit)."""
    with session_scope(session_factory) as session:
        row = session.get(Delivery, delivery_id)
        if row is None:
            return None
        if row.status == DeliveryStatus.DEAD:
            row.status = DeliveryStatus.PENDING
            row.attempts = min(row.attempts, 1)
            row.next_attempt_at = None
            session.flush()
        message = None
        if row.status == DeliveryStatus.PENDING:
            message = add_message(session, task=TASK_WRITEBACK, args=[row.id], claim=True)
        return delivery_view(row), message
