"""Draft a reply for one classified ticket and store it: the plain function behind the Celery task.

Prompt = system instructions + the top knowledge-base chunks + the ticket + its predicted intent. The
draft is checked by the guardrails; empty or degenerate output, or a draft not in the ticket's language, is
replaced by the intent's template in the ticket's language (a generator whose bundle lists the languages it
writes is not even asked for a ticket in another one).
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
from shared.drafting.guardrails import Flag, GuardrailReport, check_draft
from shared.drafting.models import Draft
from shared.drafting.prompt import Passage, build_prompt
from shared.drafting.templates import fallback_reply
from shared.metrics import DRAFTS, DRAFTS_FLAGGED, INFERENCE_DURATION
from shared.runtime.generator import Generation, GenerationConfig

log = logging.getLogger(__name__)
UNUSABLE = {Flag.EMPTY, Flag.DEGENERATE, Flag.WRONG_LANGUAGE, Flag.LANGUAGE_NOT_SERVED}


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
    min_kb_score: float | None = None  # None: the encoder's own relevance floor


@dataclass(frozen=True)
class TicketFacts:
    text: str
    intent: str | None
    customer_name: str | None
    language: str | None  # detected from the text at triage (the helpdesk's tag when detection failed)


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
    return TicketFacts(ticket.text, intent, ticket.customer_name, result.language or ticket.language)


def retrieve_passages(context: DraftContext, text: str) -> list[Passage]:
    if context.kb_passages == 0:
        return []
    knowledge = context.knowledge.get()
    hits, _ = knowledge.search(text, k=context.kb_passages)
    floor = knowledge.encoder.min_relevance if context.min_kb_score is None else context.min_kb_score
    return [
        Passage(h.article_id, f"{h.title} — {h.heading}" if h.heading else h.title, h.text)
        for h in hits
        if h.score >= floor
    ]


def _check(facts: TicketFacts, passages: list[Passage], generation: Generation | None) -> GuardrailReport:
    if generation is None:  # not generated: the generator does not write the ticket's language
        reason = f"the generator does not write {facts.language}: the {facts.language} template instead"
        return GuardrailReport([Flag.LANGUAGE_NOT_SERVED], [reason])
    return check_draft(
        generation.text,
        ticket_text=facts.text,
        cited_articles=[p.text for p in passages],
        language=facts.language,
    )


def _generate(
    context: DraftContext, generator: Any, facts: TicketFacts, passages: list[Passage]
) -> Generation:
    languages = getattr(generator, "languages", None)
    if languages and facts.language and facts.language not in languages:
        return Generation("", [], 0, "skipped", 0.0, 0.0)
    prompt = build_prompt(ticket=facts.text, intent=facts.intent, passages=passages)
    with INFERENCE_DURATION.labels("generate").time():
        return generator.generate([prompt], context.generation)[0]


def _draft_row(
    ticket_id: str, version: str, facts: TicketFacts, passages: list[Passage], generation: Generation
) -> Draft:
    report = _check(facts, passages, generation if generation.finish_reason != "skipped" else None)
    unusable = bool(UNUSABLE & set(report.flags))
    text = (
        fallback_reply(intent=facts.intent, customer_name=facts.customer_name, language=facts.language)
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
    generation = _generate(context, generator, facts, passages)
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
