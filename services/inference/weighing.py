"""Attachments read after a ticket was triaged: weigh their text, and keep a new classification only when
it changes the decision.

Triage never waits for attachments: the body is classified at once. When a ticket's attachments have been
read (`helploop.media.extract` enqueues classification again), the classifier reads the ticket with their
text; if the decision — the intent, out-of-scope, or any head's label — differs from the standing one, the
new result is stored (its `attachments_used` > 0) and becomes the ticket's classification, and the ticket
records `attachment_decision: changed`; otherwise nothing but `unchanged` is recorded, and the body's
classification stands. Each attachment weighed is marked `used` or `left_out`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.media.models import Attachment, Weighed
from shared.metrics import ATTACHMENT_DECISIONS, TICKETS_CLASSIFIED
from shared.tickets.models import Ticket, TriageResult

log = logging.getLogger(__name__)


def decision_of(result: TriageResult) -> tuple[Any, ...]:
    """What routing decides on: the intent, out-of-scope, and every head's label."""
    heads = tuple(
        sorted((name, head["label"], head["out_of_scope"]) for name, head in (result.heads or {}).items())
    )
    return (result.label, result.out_of_scope, heads)


def unweighed_attachments(ticket: Ticket) -> list[Attachment]:
    """Attachments whose text was read but not yet weighed by triage."""
    return [a for a in ticket.read_attachments if a.weighed is None]


def mark_weighed(session: Session, attachment_ids: Sequence[int], weighed: str) -> None:
    """`used`: every one of them is in the input of the classification stored (one left out earlier too);
    `left_out`: only those not weighed before."""
    if attachment_ids:
        query = update(Attachment).where(Attachment.id.in_(list(attachment_ids)))
        if weighed == Weighed.LEFT_OUT:
            query = query.where(Attachment.weighed.is_(None))
        session.execute(query.values(weighed=weighed).execution_options(synchronize_session=False))


def _record(session: Session, ticket_id: str, decision: str) -> None:
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id)
        .values(attachment_decision=decision)
        .execution_options(synchronize_session=False)
    )


def weigh_attachments(
    session_factory: sessionmaker[Session],
    row: TriageResult,
    before: tuple[Any, ...],
    attachment_ids: Sequence[int],
) -> str:
    """Store `row` (the classification with the attachments' text) only if its decision differs from
    `before`; "reclassified" or "already_done" (the triage outcomes)."""
    changed = decision_of(row) != before
    try:
        with session_scope(session_factory) as session:
            if changed:
                session.add(row)
            mark_weighed(session, attachment_ids, Weighed.USED if changed else Weighed.LEFT_OUT)
            _record(session, row.ticket_id, "changed" if changed else "unchanged")
    except IntegrityError:  # a concurrent run stored the same result first
        log.info("ticket %s: attachments weighed concurrently", row.ticket_id)
        return "already_done"
    ATTACHMENT_DECISIONS.labels("changed" if changed else "unchanged").inc()
    if not changed:
        log.info("ticket %s: its attachments leave the decision as it was (%s)", row.ticket_id, row.label)
        return "already_done"
    TICKETS_CLASSIFIED.labels(row.label).inc()
    log.info(
        "ticket %s re-classified with its attachments' text -> %s (%.3f)",
        row.ticket_id,
        row.label,
        row.confidence,
    )
    return "reclassified"


def attachment_wait_s(session_factory: sessionmaker[Session], ticket_id: str, *, wait_s: float) -> float:
    """How much longer the draft waits for this ticket's attachments: 0 when none is pending, or when
    `wait_s` since the ticket came has passed (the draft goes on without them)."""
    with session_scope(session_factory) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or not ticket.pending_attachments:
            return 0.0
        waited = (utcnow() - ticket.received_at).total_seconds()
    return max(0.0, wait_s - waited)
