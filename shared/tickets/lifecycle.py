"""A ticket's life, every status change in one place:

    received ──(message handed to the broker)──▶ queued ──(classified)──▶ triaged
        │                                          │
        └────────(retries or attempts used up)─────┴──▶ failed

`new_ticket` stores it `received`; the outbox (`tickets_queued_by`, in the transaction that marks its
messages sent) and the stale-ticket sweeper (workers) call `mark_queued`; triage calls `start_attempt`
before the model reads the ticket and `mark_triaged` after; `mark_failed` gives up with a reason the API
shows. The latest triage result is `Ticket.latest_result`; the draft a ticket is served,
`shared.drafting.models.latest_draft`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.celery_app import TASK_CLASSIFY
from shared.db.base import new_id, utcnow
from shared.metrics import TICKETS_FAILED
from shared.tickets.models import Ticket, TicketStatus
from shared.tickets.schemas import TicketIn

if TYPE_CHECKING:
    from shared.outbox.models import OutboxMessage

log = logging.getLogger(__name__)
WAITING = (TicketStatus.RECEIVED, TicketStatus.QUEUED)  # not yet triaged nor given up
MAX_REASON_CHARS = 2000


def new_ticket(*, source: str, event_id: str, ticket: TicketIn) -> Ticket:
    """The row for a ticket as received (not yet added to a session)."""
    return Ticket(
        id=new_id(),
        source=source,
        event_id=event_id,
        external_id=ticket.external_id,
        subject=ticket.subject,
        body=ticket.body,
        customer_id=ticket.customer.id,
        customer_email=ticket.customer.email,
        customer_name=ticket.customer.name,
        channel=ticket.channel,
        language=ticket.language,
        attributes=dict(ticket.attributes),
        created_at=ticket.created_at,
        status=TicketStatus.RECEIVED,
        triage_attempts=0,
        received_at=utcnow(),
    )


def mark_queued(session: Session, ticket_ids: Sequence[str], *, again: bool = False) -> None:
    """Their classification message was handed to the broker: `received` → `queued`. `again` (the sweeper's
    re-enqueue) also refreshes `queued_at` of tickets already queued. A ticket a fast worker already triaged
    is left alone."""
    if not ticket_ids:
        return
    from_statuses = WAITING if again else (TicketStatus.RECEIVED,)
    session.execute(
        update(Ticket)
        .where(Ticket.id.in_(list(ticket_ids)), Ticket.status.in_(from_statuses))
        .values(status=TicketStatus.QUEUED, queued_at=utcnow(), failure_reason=None)
        .execution_options(synchronize_session=False)
    )


def tickets_queued_by(session: Session, messages: Sequence[OutboxMessage]) -> None:
    """The outbox handed these messages to the broker (same transaction): classification messages move
    their tickets to `queued`."""
    mark_queued(session, [str(m.args[0]) for m in messages if m.task == TASK_CLASSIFY and m.args])


def start_attempt(session: Session, ticket: Ticket, *, max_attempts: int) -> bool:
    """Count a triage run before the model sees the ticket (committed first, so a crash still counts);
    False, with the ticket marked failed, once `max_attempts` runs have started and none finished."""
    if ticket.triage_attempts >= max_attempts:
        reason = (
            f"gave up after {ticket.triage_attempts} attempts that never finished "
            "(the worker died or hit its time limit while classifying this ticket)"
        )
        log.error("ticket %s: %s", ticket.id, reason)
        mark_failed(session, ticket.id, reason, even_if_triaged=True)
        return False
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(triage_attempts=Ticket.triage_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return True


def mark_triaged(session: Session, ticket_id: str) -> None:
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id)
        .values(status=TicketStatus.TRIAGED, triaged_at=utcnow(), failure_reason=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, ticket_id: str, reason: str, *, even_if_triaged: bool = False) -> bool:
    """Give up on a ticket, keeping the reason readable through the API; False when it was not marked: a
    ticket triaged earlier (by another model version, or before its routing failed) keeps its status
    unless `even_if_triaged`."""
    query = update(Ticket).where(Ticket.id == ticket_id)
    if not even_if_triaged:
        query = query.where(Ticket.status != TicketStatus.TRIAGED)
    values = {"status": TicketStatus.FAILED, "failure_reason": reason[:MAX_REASON_CHARS]}
    marked = session.execute(query.values(**values).execution_options(synchronize_session=False)).rowcount > 0
    if marked:
        TICKETS_FAILED.inc()
    return marked
