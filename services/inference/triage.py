"""Classify one stored ticket and store the result: the plain function behind the Celery task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.inference.model_holder import ActiveModel
from shared.db import Ticket, TicketStatus, TriageResult, session_scope
from shared.db.models import utcnow

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    CLASSIFIED = "classified"
    ALREADY_DONE = "already_done"
    MISSING = "missing"


@dataclass
class TriageContext:
    session_factory: sessionmaker[Session]
    model: ActiveModel
    top_k: int = 3


def _has_result(session: Session, ticket_id: str, version: str) -> bool:
    query = select(TriageResult.id).where(
        TriageResult.ticket_id == ticket_id, TriageResult.model_version == version
    )
    return session.scalars(query).first() is not None


def _mark_triaged(session: Session, ticket_id: str) -> None:
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id)
        .values(status=TicketStatus.TRIAGED, triaged_at=utcnow(), failure_reason=None)
    )


def classify_ticket(*, ticket_id: str, context: TriageContext) -> Outcome:
    """Idempotent: a ticket already classified by the active model version is left as it is."""
    classifier = context.model.get()
    with session_scope(context.session_factory) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            log.warning("ticket %s not found; dropping the task", ticket_id)
            return Outcome.MISSING
        if _has_result(session, ticket_id, classifier.version):
            if ticket.status != TicketStatus.TRIAGED:
                _mark_triaged(session, ticket_id)
            return Outcome.ALREADY_DONE
        text = ticket.text
    prediction = classifier.predict([text], top_k=context.top_k)[0]
    try:
        with session_scope(context.session_factory) as session:
            session.add(
                TriageResult(
                    ticket_id=ticket_id,
                    model_version=classifier.version,
                    label=prediction.label,
                    confidence=prediction.confidence,
                    top_k=[[label, p] for label, p in prediction.top_k],
                    inference_ms=prediction.inference_ms,
                )
            )
            _mark_triaged(session, ticket_id)
    except IntegrityError:
        log.info("ticket %s was classified concurrently by %s", ticket_id, classifier.version)
        return Outcome.ALREADY_DONE
    log.info(
        "ticket %s -> %s (%.3f, model %s)",
        ticket_id,
        prediction.label,
        prediction.confidence,
        classifier.version,
    )
    return Outcome.CLASSIFIED


def mark_failed(*, ticket_id: str, session_factory: sessionmaker[Session], reason: str) -> None:
    """Give up on a ticket after its retries, keeping the reason readable through the API."""
    with session_scope(session_factory) as session:
        session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status != TicketStatus.TRIAGED)
            .values(status=TicketStatus.FAILED, failure_reason=reason[:2000])
        )
