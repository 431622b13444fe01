"""Shadow predictions: the shadow model's answer on a live ticket, stored beside the active model's, off
the critical path (its own task on queue `batch`, after the ticket was triaged and routed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.inference.model_holder import ClassifierVersions
from shared.db import session_scope
from shared.learning.models import ShadowPrediction
from shared.registry import Registry
from shared.tickets.models import Ticket, TriageResult

log = logging.getLogger(__name__)


class ShadowOutcome(StrEnum):
    STORED = "stored"
    NO_SHADOW = "no_shadow"
    ALREADY_DONE = "already_done"
    NOT_TRIAGED = "not_triaged"


@dataclass
class ShadowContext:
    session_factory: sessionmaker[Session]
    registry: Registry
    versions: ClassifierVersions


def _active_result(session: Session, ticket_id: str, shadow: str) -> TriageResult | None:
    query = select(TriageResult).where(
        TriageResult.ticket_id == ticket_id, TriageResult.model_version != shadow
    )
    return session.scalars(query.order_by(TriageResult.created_at.desc(), TriageResult.id.desc())).first()


def shadow_classify(*, ticket_id: str, context: ShadowContext) -> ShadowOutcome:
    version = context.registry.shadow_version()
    if version is None:
        return ShadowOutcome.NO_SHADOW
    with session_scope(context.session_factory) as session:
        query = select(ShadowPrediction.id).where(
            ShadowPrediction.ticket_id == ticket_id, ShadowPrediction.model_version == version
        )
        if session.scalars(query).first() is not None:
            return ShadowOutcome.ALREADY_DONE
        ticket, active = session.get(Ticket, ticket_id), _active_result(session, ticket_id, version)
        if ticket is None or active is None:
            return ShadowOutcome.NOT_TRIAGED
        text, active_version, active_label = ticket.text, active.model_version, active.label
    prediction = context.versions.get(version).predict([text], top_k=3)[0]
    heads = {name: {"label": h.label, "confidence": h.confidence} for name, h in prediction.heads.items()}
    row = ShadowPrediction(
        ticket_id=ticket_id,
        model_version=version,
        label=prediction.primary.label,
        confidence=prediction.primary.confidence,
        heads=heads,
        active_version=active_version,
        active_label=active_label,
        inference_ms=prediction.inference_ms,
    )
    try:
        with session_scope(context.session_factory) as session:
            session.add(row)
    except IntegrityError:
        return ShadowOutcome.ALREADY_DONE
    return ShadowOutcome.STORED
