"""Shadow drafts: the shadow generator's draft of a live ticket, made after the active draft (its own task
on queue `shadow_drafts`, off the ticket's path) from the same prompt — same knowledge-base passages, same
history, same decoding and resampling — checked by the same guardrails, stored in `shadow_drafts` and never
shown or written back. `shared.drafting.shadow_service` scores it when the ticket is resolved."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.inference.drafting import (
    DraftContext,
    DraftOutcome,
    draft_fields,
    generate_checked,
    load_facts,
    retrieve_passages,
)
from services.inference.model_holder import PinnedModels
from shared.db import session_scope
from shared.drafting.models import Draft, ShadowDraft
from shared.drafting.shadow_service import score_if_resolved
from shared.metrics import SHADOW_DRAFTS
from shared.registry import Registry
from shared.runtime.generator import OnnxGenerator

log = logging.getLogger(__name__)


class ShadowDraftOutcome(StrEnum):
    STORED = "stored"
    NO_SHADOW = "no_shadow"
    ALREADY_DONE = "already_done"
    NOT_DRAFTED = "not_drafted"  # the active generator has not drafted it (or the ticket is gone)


@dataclass
class ShadowDraftContext:
    drafts: DraftContext  # the active drafting's settings, session factory and knowledge base
    registry: Registry  # the generators' registry: its shadow pointer names the version
    versions: PinnedModels[OnnxGenerator]


def _served_version(
    context: ShadowDraftContext, ticket_id: str, shadow: str
) -> str | ShadowDraftOutcome | None:
    with session_scope(context.drafts.session_factory) as session:
        done = select(ShadowDraft.id).where(
            ShadowDraft.ticket_id == ticket_id, ShadowDraft.generator_version == shadow
        )
        if session.scalars(done).first() is not None:
            return ShadowDraftOutcome.ALREADY_DONE
        served = select(Draft.generator_version).where(
            Draft.ticket_id == ticket_id, Draft.generator_version != shadow
        )
        return session.scalars(served.order_by(Draft.created_at.desc(), Draft.id.desc())).first()


def shadow_draft(*, ticket_id: str, context: ShadowDraftContext) -> ShadowDraftOutcome:
    """Idempotent per (ticket, shadow version)."""
    version = context.registry.shadow_version()
    if version is None:
        return ShadowDraftOutcome.NO_SHADOW
    active = _served_version(context, ticket_id, version)
    if isinstance(active, ShadowDraftOutcome):
        return active
    drafts = context.drafts
    with session_scope(drafts.session_factory) as session:
        facts = load_facts(session, ticket_id, retention_days=drafts.history_retention_days)
    if active is None or isinstance(facts, DraftOutcome):
        return ShadowDraftOutcome.NOT_DRAFTED
    generator = context.versions.get(version)
    passages = retrieve_passages(drafts, facts.text)
    fields = draft_fields(facts, passages, generate_checked(drafts, generator, facts, passages))
    row = ShadowDraft(
        ticket_id=ticket_id,
        generator_version=version,
        active_version=active,
        language=facts.language,
        **fields,
    )
    try:
        with session_scope(drafts.session_factory) as session:
            session.add(row)
            session.flush()
            scored = score_if_resolved(session, row)
    except IntegrityError:
        return ShadowDraftOutcome.ALREADY_DONE
    SHADOW_DRAFTS.labels(row.source).inc()
    log.info(
        "ticket %s drafted in shadow by %s (active %s): %s, flags %s%s",
        ticket_id,
        version,
        active,
        row.source,
        row.flags or "none",
        "; scored against the agent's reply" if scored else "",
    )
    return ShadowDraftOutcome.STORED
