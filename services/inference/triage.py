"""Classify one stored ticket and store the result: the plain function behind the Celery task."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from services.inference.microbatch import DirectPredictor, MicroBatcher
from services.inference.model_holder import ActiveModel
from services.inference.weighing import decision_of, mark_weighed, unweighed_attachments, weigh_attachments
from shared.db import session_scope
from shared.db.base import utcnow
from shared.media.models import Weighed
from shared.metrics import TICKETS_CLASSIFIED, TRIAGE_LATENCY
from shared.runtime.classifier import Prediction
from shared.runtime.language import LanguageGuess, detect_language, is_supported
from shared.tickets.lifecycle import mark_failed, mark_triaged, start_attempt
from shared.tickets.models import Ticket, TicketStatus, TriageResult

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    CLASSIFIED = "classified"
    ROUTED = "routed"  # classified and routed in one transaction (`TriageContext.route`)
    ALREADY_DONE = "already_done"
    MISSING = "missing"
    GAVE_UP = "gave_up"  # too many attempts died or timed out: marked failed without another try
    RECLASSIFIED = "reclassified"  # attachments read after triage changed the decision: a new result


@dataclass
class TriageContext:
    session_factory: sessionmaker[Session]
    model: ActiveModel
    top_k: int = 3
    predictor: DirectPredictor | MicroBatcher = field(default_factory=DirectPredictor)
    max_attempts: int = 6  # runs started per ticket; one that kills its worker each time stops here
    # routes a ticket's first result in the transaction that stores it (the worker sets it when drafts
    # are off: nothing comes between classification and routing); returns the deliveries to send
    route: Callable[[Session, str, TriageResult], list[int]] | None = None


@dataclass(frozen=True)
class Triaged:
    outcome: Outcome
    deliveries: tuple[int, ...] = ()  # ROUTED: the write-back deliveries to send now it has committed


def build_result_row(
    ticket_id: str, version: str, prediction: Prediction, language: LanguageGuess, supported: list[str]
) -> TriageResult:
    primary = prediction.primary
    heads = {
        name: {
            "label": head.label,
            "confidence": head.confidence,
            "out_of_scope": head.out_of_scope,
            "top_k": [[label, p] for label, p in head.top_k],
        }
        for name, head in prediction.heads.items()
    }
    return TriageResult(
        ticket_id=ticket_id,
        model_version=version,
        label=primary.label,
        confidence=primary.confidence,
        top_k=heads[prediction.primary_head]["top_k"],
        out_of_scope=primary.out_of_scope,
        heads=heads,
        language=language.language,
        language_supported=is_supported(language.language, supported),
        inference_ms=prediction.inference_ms,
    )


def _newest_result(session: Session, ticket_id: str, version: str) -> TriageResult | None:
    query = select(TriageResult).where(
        TriageResult.ticket_id == ticket_id, TriageResult.model_version == version
    )
    return session.scalars(query.order_by(TriageResult.attachments_used.desc())).first()


@dataclass(frozen=True)
class _Input:
    text: str
    received_at: datetime
    attachment_ids: tuple[int, ...]  # read attachments whose text the input holds
    before: tuple[Any, ...] | None  # the decision standing, when this run weighs newly read attachments
    pending: bool = False  # attachments still being read: the route waits for them
    ticket: Ticket | None = None  # as read (detached): the route's, without loading it again


def _load_input(session: Session, ticket: Ticket, version: str, max_attempts: int | None) -> _Input | Outcome:
    """What the model reads, or why it reads nothing; `max_attempts` None: this run is not counted."""
    previous = _newest_result(session, ticket.id, version)
    if previous is not None:
        if ticket.status != TicketStatus.TRIAGED:
            mark_triaged(session, ticket.id)
        if not unweighed_attachments(ticket):
            return Outcome.ALREADY_DONE
        before: tuple[Any, ...] | None = decision_of(previous)
    elif max_attempts is not None and not start_attempt(session, ticket, max_attempts=max_attempts):
        return Outcome.GAVE_UP
    else:
        before = None
    read = tuple(a.id for a in ticket.read_attachments)
    return _Input(ticket.text, ticket.received_at, read, before, bool(ticket.pending_attachments), ticket)


def classify_ticket(*, ticket_id: str, context: TriageContext) -> Outcome:
    """Idempotent: a ticket already classified by the active model version is left as it is — unless
    attachments were read since, whose text is then weighed (`weigh_attachments`)."""
    return triage_ticket(ticket_id=ticket_id, context=context).outcome


def triage_ticket(*, ticket_id: str, context: TriageContext, first_delivery: bool = False) -> Triaged:
    """`classify_ticket`, and with `context.route` a first result with no attachment pending is routed in
    the same transaction (ROUTED, with the deliveries to send).

    Each run is counted (committed before the model sees the ticket) so that a ticket which kills its
    worker every time is given up — except a message's `first_delivery` (the broker's `redelivered` flag
    unset): then the first transaction only reads, and a run that dies brings the message back flagged as
    redelivered, which is counted. The common case pays one write transaction per ticket, not two; a
    poison ticket costs one crash more before it is failed."""
    classifier = context.model.get()
    with context.predictor.announce():  # a batch forming in this process may wait for this ticket
        with session_scope(context.session_factory) as session:
            ticket = session.get(Ticket, ticket_id, options=[joinedload(Ticket.attachments)])  # one query
            if ticket is None:
                log.warning("ticket %s not found; dropping the task", ticket_id)
                return Triaged(Outcome.MISSING)
            counted = None if first_delivery else context.max_attempts
            loaded = _load_input(session, ticket, classifier.version, counted)
        if isinstance(loaded, Outcome):
            return Triaged(loaded)
        prediction = context.predictor.predict(classifier, loaded.text, top_k=context.top_k)
    row = build_result_row(
        ticket_id, classifier.version, prediction, detect_language(loaded.text), classifier.languages
    )
    row.attachments_used = len(loaded.attachment_ids)
    if loaded.before is not None:
        weighed = weigh_attachments(context.session_factory, row, loaded.before, loaded.attachment_ids)
        return Triaged(Outcome(weighed))
    route = context.route if not loaded.pending else None
    try:
        row, deliveries = _store_routed(context.session_factory, row, loaded, route)
    except IntegrityError:
        log.info("ticket %s was classified concurrently by %s", ticket_id, classifier.version)
        return Triaged(Outcome.ALREADY_DONE)
    TICKETS_CLASSIFIED.labels(row.label).inc()
    TRIAGE_LATENCY.observe(max(0.0, (utcnow() - loaded.received_at).total_seconds()))
    log.info("ticket %s -> %s (%.3f, model %s)", ticket_id, row.label, row.confidence, classifier.version)
    if deliveries is None:
        return Triaged(Outcome.CLASSIFIED)
    return Triaged(Outcome.ROUTED, tuple(deliveries))


def _store_routed(
    session_factory: sessionmaker[Session],
    row: TriageResult,
    loaded: _Input,
    route: Callable[[Session, str, TriageResult], list[int]] | None,
) -> tuple[TriageResult, list[int] | None]:
    """`_store` with `route`; when routing fails (a policy that cannot load, a broken brief) the result is
    stored alone and the pipeline routes it as before, retrying that alone — a classification is never lost
    to routing. (The row stored, the deliveries or None.)"""
    try:
        return row, _store(session_factory, row, loaded, route)
    except Exception as exc:
        if route is None or isinstance(exc, IntegrityError):
            raise
        log.warning("routing ticket %s with its result failed (%s); storing the result", row.ticket_id, exc)
        alone = unsaved_copy(row)
        return alone, _store(session_factory, alone, loaded, None)


def unsaved_copy(row: TriageResult) -> TriageResult:
    """A fresh, unsaved copy of a result whose transaction was rolled back."""
    columns = ("ticket_id", "model_version", "label", "confidence", "top_k", "out_of_scope", "heads")
    columns += ("language", "language_supported", "inference_ms", "attachments_used")
    return TriageResult(**{c: getattr(row, c) for c in columns})


def _store(
    session_factory: sessionmaker[Session],
    row: TriageResult,
    loaded: _Input,
    route: Callable[[Session, str, TriageResult], list[int]] | None,
) -> list[int] | None:
    """One transaction: the result, the ticket triaged, its attachments weighed and, with `route`, the
    routing decision and its deliveries (whose ids it returns; None without `route`). The ticket as read
    joins this session unloaded (`merge(load=False)`): the route finds it without a query."""
    with session_scope(session_factory) as session:
        session.add(row)
        mark_triaged(session, row.ticket_id)
        mark_weighed(session, loaded.attachment_ids, Weighed.USED)
        if route is None:
            return None
        session.flush()  # the result's id: the decision's key
        held = session.merge(loaded.ticket, load=False) if loaded.ticket is not None else None
        deliveries = route(session, row.ticket_id, row)
        del held  # the session's identity map holds it weakly: held until the route has read it
        return deliveries


def give_up(*, ticket_id: str, session_factory: sessionmaker[Session], reason: str) -> None:
    """Mark a ticket failed after its retries (the task's give-up hook)."""
    with session_scope(session_factory) as session:
        mark_failed(session, ticket_id, reason)
