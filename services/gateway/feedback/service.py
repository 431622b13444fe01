"""Record an agent's resolution of a ticket as a labelled, PII-redacted example linked to the prediction.

When the helpdesk's webhook does not carry the ticket's final tags (Zammad's default payload), the same
transaction stages an outbox message for the write-back worker, which reads the tags from the helpdesk's
API and sets the final label (`helploop.writeback.resolution_labels`, queue `callbacks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.celery_app import TASK_RESOLUTION_LABELS
from shared.db import session_scope
from shared.db.base import utcnow
from shared.drafting.adoption_service import record_adoption
from shared.integrations.models import Resolution
from shared.integrations.schemas import ResolutionView
from shared.learning.reports import final_intent
from shared.metrics import DRAFT_ADOPTIONS
from shared.outbox.service import add_message
from shared.pii import redact
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnknownTicket(LookupError):
    pass


def _find_ticket(session: Session, *, ticket_id: str | None, source: str, external_id: str | None) -> Ticket:
    if ticket_id is not None:
        ticket = session.get(Ticket, ticket_id)
    else:
        query = select(Ticket).where(Ticket.source == source, Ticket.external_id == external_id)
        ticket = session.scalars(query.order_by(Ticket.received_at.desc())).first()
    if ticket is None:
        raise UnknownTicket(ticket_id or f"{source}/{external_id}")
    return ticket


def _fill(row: Resolution, ticket: Ticket, labels: dict[str, str], reply: str | None, at: datetime) -> None:
    latest = ticket.latest_result
    known = final_intent(row.final_labels)
    if known and not final_intent(labels):  # a helpdesk event without tags keeps the reviewer's intent
        labels = {**labels, "label": known}
    row.final_labels = labels
    row.text = redact(ticket.text)
    row.reply = redact(reply) if reply else None
    row.resolved_at = at
    row.triage_result_id = latest.id if latest else None
    row.model_version = latest.model_version if latest else None
    row.predicted_label = latest.label if latest else None
    row.predicted_confidence = latest.confidence if latest else None
    final = labels.get("label")
    row.correct = (final == latest.label) if (latest and final) else None


def resolution_view(row: Resolution) -> ResolutionView:
    return ResolutionView(
        ticket_id=row.ticket_id,
        source=row.source,
        final_labels=dict(row.final_labels),
        predicted_label=row.predicted_label,
        model_version=row.model_version,
        correct=row.correct,
        reply=row.reply,
        resolved_at=row.resolved_at,
    )


def _upsert(
    session: Session, ticket: Ticket, source: str, fill: Callable[[Resolution, bool], None]
) -> Resolution:
    """The ticket's one resolution: a new row filled before its insert (`fill(row, True)`), or the stored
    one updated (`fill(row, False)`)."""
    row = session.scalars(select(Resolution).where(Resolution.ticket_id == ticket.id)).first()
    if row is None:
        row = Resolution(ticket_id=ticket.id, source=source, final_labels={})
        fill(row, True)
        session.add(row)
    else:
        fill(row, False)
    session.flush()
    return row


def _twice(store: Callable[[], T], what: str) -> T:
    """A concurrent first insert loses the race once (unique ticket id), then updates the winner's row."""
    for _ in range(2):
        try:
            return store()
        except IntegrityError:
            continue
    raise RuntimeError(f"{what} could not be stored")


def record_resolution(
    *,
    session_factory: sessionmaker[Session],
    source: str,
    final_labels: dict[str, str],
    reply: str | None,
    ticket_id: str | None = None,
    external_id: str | None = None,
    resolved_at: datetime | None = None,
    fetch_labels: bool = False,
) -> ResolutionView:
    """Insert or update the ticket's one resolution (a reopened and re-solved ticket keeps the last).

    `fetch_labels`: the final labels are in the helpdesk (`source` names the integration), not in the
    event; an outbox message for the write-back worker is staged with the resolution (the gateway's relay
    publishes it), and the worker sets the final label and `correct`."""
    at = resolved_at or utcnow()

    def store() -> tuple[ResolutionView, tuple[str, str] | None]:
        with session_scope(session_factory) as session:
            ticket = _find_ticket(session, ticket_id=ticket_id, source=source, external_id=external_id)
            row = _upsert(
                session, ticket, source, lambda row, _new: _fill(row, ticket, final_labels, reply, at)
            )
            adoption = record_adoption(session, ticket=ticket, reply=row.reply, at=at)
            if fetch_labels:
                add_message(session, task=TASK_RESOLUTION_LABELS, args=[ticket.id])
            outcome = (adoption.outcome, adoption.draft_source) if adoption is not None else None
            return resolution_view(row), outcome

    view, outcome = _twice(store, "resolution")
    if outcome is not None:
        DRAFT_ADOPTIONS.labels(*outcome).inc()
    log.info(
        "resolution of ticket %s recorded (correct=%s, draft %s%s)",
        view.ticket_id,
        view.correct,
        outcome[0] if outcome else "none",
        "; final labels to be read from the helpdesk" if fetch_labels else "",
    )
    return view


def record_correction(
    *, session_factory: sessionmaker[Session], ticket_id: str, labels: dict[str, str], source: str = "console"
) -> ResolutionView:
    """A reviewer's final labels for a ticket (confirmed or corrected), stored as its resolution feedback:
    merged into a resolution the helpdesk already sent (its reply kept), else a new one without a reply.
    Live accuracy and the nightly retrain read it like any other resolution."""

    def fill(row: Resolution, new: bool, ticket: Ticket) -> None:
        reply, at = row.reply, utcnow() if new else row.resolved_at
        _fill(row, ticket, {**dict(row.final_labels or {}), **labels}, None, at)
        row.reply = reply  # the helpdesk's, already redacted when it was stored

    def store() -> ResolutionView:
        with session_scope(session_factory) as session:
            ticket = _find_ticket(session, ticket_id=ticket_id, source=source, external_id=None)
            return resolution_view(_upsert(session, ticket, source, lambda row, new: fill(row, new, ticket)))

    view = _twice(store, "correction")
    log.info("ticket %s labelled %s by %s (correct=%s)", view.ticket_id, labels, source, view.correct)
    return view
