"""Ticket intake and lookup: keyword-only functions that know nothing of HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.feedback.service import resolution_view
from shared.celery_app import TASK_CLASSIFY, TASK_MEDIA_EXTRACT
from shared.db import session_scope
from shared.drafting.models import latest_draft
from shared.drafting.schemas import DraftView
from shared.integrations.models import Delivery, Resolution
from shared.integrations.schemas import DeliveryView, ResolutionView
from shared.media.intake import IntakeLimits, attachment_rows
from shared.media.models import Attachment, Weighed
from shared.media.schemas import AttachmentView, IncomingFile
from shared.outbox.models import OutboxMessage
from shared.outbox.sent_log import SentLog
from shared.outbox.service import Publish, add_message, publish_claimed
from shared.pii import redact
from shared.routing.models import RoutingDecision
from shared.routing.schemas import RoutingView
from shared.tickets.lifecycle import new_ticket
from shared.tickets.models import Ticket, TicketStatus, TriageResult
from shared.tickets.normalise import normalise_ticket
from shared.tickets.schemas import (
    Classification,
    HeadClassification,
    LabelProbability,
    RemovedPart,
    TicketIn,
    TicketView,
    Timings,
)

log = logging.getLogger(__name__)
MAX_REMOVED_CHARS = 2000  # of each removed part shown in the ticket view (its length is given whole)
MAX_ATTACHMENT_CHARS = 5000  # of each attachment's text shown there


@dataclass(frozen=True)
class IngestResult:
    ticket_id: str
    status: str
    created: bool


def _find(session: Session, source: str, event_id: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.source == source, Ticket.event_id == event_id)).first()


def _insert_with_messages(
    factory: sessionmaker[Session], row: Ticket, *, no_backlog: bool
) -> list[OutboxMessage] | None:
    """Commit the ticket, its attachments and its messages together (classification at once; the
    attachments' extraction beside it); None when a concurrent request stored the same event first."""
    try:
        with session_scope(factory) as session:
            session.add(row)
            session.flush()  # the ticket row first (the messages refer to it)
            stage = partial(add_message, session, args=[row.id], claim=True, no_backlog=no_backlog)
            messages = [stage(task=TASK_CLASSIFY)]
            if row.attachments:
                messages.append(stage(task=TASK_MEDIA_EXTRACT))
            return messages
    except IntegrityError:
        return None


def ingest_ticket(
    *,
    session_factory: sessionmaker[Session],
    publish: Publish,
    source: str,
    event_id: str,
    ticket: TicketIn,
    files: list[IncomingFile] | None = None,
    limits: IntakeLimits | None = None,
    on_left_pending: Callable[[], None] | None = None,
    sent: SentLog | None = None,
    no_backlog: bool = False,
) -> IngestResult:
    """Store the ticket once per (source, event_id) with its attachments (`ticket.attachments`, then
    `files`: multipart uploads) and outbox messages in the same transaction, then publish the messages
    when nothing older waits. With the broker away the ticket is accepted all the same: the messages stay
    in the outbox for the relay (`on_left_pending` wakes it). With `sent` the relay marks the published
    messages sent a moment later (`publish_claimed`); `no_backlog` (the relay saw none just now) spares
    the check for older waiting messages (`add_message`). A cap broken by the attachments raises
    `AttachmentRejected` before anything is stored."""
    row = new_ticket(source=source, event_id=event_id, ticket=ticket)
    incoming = [a.incoming() for a in ticket.attachments] + list(files or [])
    row.attachments = attachment_rows(incoming, limits or IntakeLimits())
    messages = _insert_with_messages(session_factory, row, no_backlog=no_backlog)
    if messages is not None:  # the common case: a new event (a replay meets the unique constraint)
        outcomes = [
            publish_claimed(session_factory=session_factory, publish=publish, message=m, sent=sent)
            for m in messages
        ]
        published = outcomes[0]
        if not all(outcomes) and on_left_pending is not None:
            on_left_pending()
        log.info("ticket %s accepted from %s (event %s)", row.id, source, event_id)
        return IngestResult(row.id, TicketStatus.QUEUED if published else TicketStatus.RECEIVED, True)
    with session_scope(session_factory) as session:
        existing = _find(session, source, event_id)
    if existing is None:
        raise RuntimeError(f"unique violation for {source}/{event_id} without a stored row")
    return IngestResult(existing.id, existing.status, created=False)


def _ranked(pairs: list[list[Any]]) -> list[LabelProbability]:
    return [LabelProbability(label=label, p=p) for label, p in pairs]


def _classification(result: TriageResult) -> Classification:
    heads = {
        name: HeadClassification(
            label=head["label"],
            confidence=head["confidence"],
            top_k=_ranked(head["top_k"]),
            out_of_scope=head["out_of_scope"],
        )
        for name, head in (result.heads or {}).items()
    }
    return Classification(
        label=result.label,
        confidence=result.confidence,
        top_k=_ranked(result.top_k),
        out_of_scope=result.out_of_scope,
        heads=heads,
        language=result.language,
        language_supported=result.language_supported,
        model_version=result.model_version,
        inference_ms=result.inference_ms,
        attachments_used=result.attachments_used,
    )


def _draft_view(session: Session, ticket_id: str) -> DraftView | None:
    row = latest_draft(session, ticket_id)
    if row is None:
        return None
    return DraftView(
        text=row.text,
        source=row.source,
        citations=list(row.citations),
        flags=list(row.flags),
        reasons=list(row.reasons),
        generator_version=row.generator_version,
        prompt_tokens=row.prompt_tokens,
        tokens=row.tokens,
        latency_ms=row.latency_ms,
        created_at=row.created_at,
    )


def _latest_routing(session: Session, ticket_id: str) -> RoutingView | None:
    query = select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id)
    row = session.scalars(query.order_by(RoutingDecision.id.desc())).first()
    if row is None:
        return None
    return RoutingView(
        route=row.route,
        queue=row.queue,
        reasons=list(row.reasons),
        policy_version=row.policy_version,
        created_at=row.created_at,
    )


def delivery_view(row: Delivery) -> DeliveryView:
    return DeliveryView.model_validate(row, from_attributes=True)


def _deliveries(session: Session, ticket_id: str) -> list[DeliveryView]:
    rows = session.scalars(select(Delivery).where(Delivery.ticket_id == ticket_id).order_by(Delivery.id))
    return [delivery_view(row) for row in rows]


def _attachment_view(row: Attachment) -> AttachmentView:
    return AttachmentView(
        filename=row.filename,
        status=row.status,
        kind=row.kind,
        size=row.size,
        engine=row.engine,
        confidence=row.confidence,
        language=row.language,
        text=redact(row.text)[:MAX_ATTACHMENT_CHARS] if row.text else None,
        chars=len(row.text or ""),
        details=dict(row.details or {}),
        error=row.error,
        error_detail=row.error_detail,
        in_classification=row.weighed == Weighed.USED,
        extracted_at=row.extracted_at,
    )


def _resolution(session: Session, ticket_id: str) -> ResolutionView | None:
    row = session.scalars(select(Resolution).where(Resolution.ticket_id == ticket_id)).first()
    return resolution_view(row) if row is not None else None


def get_ticket_view(*, session_factory: sessionmaker[Session], ticket_id: str) -> TicketView | None:
    with session_scope(session_factory) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        latest = ticket.latest_result
        return TicketView(
            id=ticket.id,
            source=ticket.source,
            event_id=ticket.event_id,
            external_id=ticket.external_id,
            status=ticket.status,
            subject=ticket.subject,
            channel=ticket.channel,
            language=ticket.language,
            attributes=ticket.attributes or {},
            removed=[
                RemovedPart(kind=part.kind, chars=len(part.text), text=redact(part.text)[:MAX_REMOVED_CHARS])
                for part in normalise_ticket(ticket.body, ticket.subject).removed
            ],
            classification=_classification(latest) if latest else None,
            draft=_draft_view(session, ticket.id),
            routing=_latest_routing(session, ticket.id),
            deliveries=_deliveries(session, ticket.id),
            resolution=_resolution(session, ticket.id),
            attachments=[_attachment_view(a) for a in ticket.attachments],
            attachment_decision=ticket.attachment_decision,
            failure_reason=ticket.failure_reason,
            timings=Timings(received=ticket.received_at, queued=ticket.queued_at, triaged=ticket.triaged_at),
        )
