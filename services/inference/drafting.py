"""Draft a reply for one classified ticket and store it: the plain function behind the Celery task.

Prompt = system instructions + the top knowledge-base chunks + the ticket + its predicted intent. The
draft is checked by the guardrails; empty or degenerate output is replaced by the intent's template.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import Ticket, session_scope
from shared.drafting.guardrails import Flag, check_draft
from shared.drafting.models import Draft
from shared.drafting.prompt import Passage, build_prompt
from shared.drafting.templates import fallback_reply
from shared.metrics import DRAFTS, DRAFTS_FLAGGED, INFERENCE_DURATION
from shared.runtime.generator import Generation, GenerationConfig

log = logging.getLogger(__name__)
UNUSABLE = {Flag.EMPTY, Flag.DEGENERATE}


class DraftOutcome(StrEnum):
    DRAFTED = "drafted"
    ALREADY_DONE = "already_done"
    MISSING = "missing"
    NOT_CLASSIFIED = "not_classified"


@dataclass
class DraftContext:
    session_factory: sessionmaker[Session]
    generator: Any  # ActiveArtifact[OnnxGenerator]
    knowledge: Any  # ActiveKnowledgeBase
    generation: GenerationConfig
    kb_passages: int = 3
    min_kb_score: float = 0.25


@dataclass(frozen=True)
class TicketFacts:
    text: str
    intent: str | None
    customer_name: str | None


def _load(session: Session, ticket_id: str, version: str) -> TicketFacts | DraftOutcome:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return DraftOutcome.MISSING
    if not ticket.results:
        return DraftOutcome.NOT_CLASSIFIED
    done = select(Draft.id).where(Draft.ticket_id == ticket_id, Draft.generator_version == version)
    if session.scalars(done).first() is not None:
        return DraftOutcome.ALREADY_DONE
    result = ticket.results[-1]
    intent = None if result.out_of_scope else result.label
    return TicketFacts(ticket.text, intent, ticket.customer_name)


def retrieve_passages(context: DraftContext, text: str) -> list[Passage]:
    if context.kb_passages == 0:
        return []
    hits, _ = context.knowledge.get().search(text, k=context.kb_passages)
    return [
        Passage(h.article_id, f"{h.title} — {h.heading}" if h.heading else h.title, h.text)
        for h in hits
        if h.score >= context.min_kb_score
    ]


def _draft_row(
    ticket_id: str, version: str, facts: TicketFacts, passages: list[Passage], generation: Generation
) -> Draft:
    report = check_draft(generation.text, ticket_text=facts.text, cited_articles=[p.text for p in passages])
    unusable = bool(UNUSABLE & set(report.flags))
    text = (
        fallback_reply(intent=facts.intent, customer_name=facts.customer_name)
        if unusable
        else generation.text
    )
    return Draft(
        ticket_id=ticket_id,
        generator_version=version,
        source="template" if unusable else "model",
        text=text,
        citations=list(dict.fromkeys(p.source_id for p in passages)),
        flags=report.flags,
        reasons=report.reasons,
        intent=facts.intent,
        prompt_tokens=generation.prompt_tokens,
        tokens=generation.tokens,
        latency_ms=generation.seconds * 1000.0,
    )


def draft_reply(*, ticket_id: str, context: DraftContext) -> DraftOutcome:
    """Idempotent per (ticket, generator version)."""
    generator = context.generator.get()
    with session_scope(context.session_factory) as session:
        facts = _load(session, ticket_id, generator.version)
    if isinstance(facts, DraftOutcome):
        return facts
    started = time.perf_counter()
    passages = retrieve_passages(context, facts.text)
    prompt = build_prompt(ticket=facts.text, intent=facts.intent, passages=passages)
    with INFERENCE_DURATION.labels("generate").time():
        generation = generator.generate([prompt], context.generation)[0]
    row = _draft_row(ticket_id, generator.version, facts, passages, generation)
    try:
        with session_scope(context.session_factory) as session:
            session.add(row)
    except IntegrityError:
        return DraftOutcome.ALREADY_DONE
    DRAFTS.labels(row.source).inc()
    for reason in row.flags:
        DRAFTS_FLAGGED.labels(reason).inc()
    log.info(
        "ticket %s drafted by %s: %d tokens in %.2fs, flags %s (total %.2fs)",
        ticket_id,
        generator.version,
        generation.tokens,
        generation.seconds,
        row.flags or "none",
        time.perf_counter() - started,
    )
    return DraftOutcome.DRAFTED
