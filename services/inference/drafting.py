"""Draft a reply for one classified ticket and store it: the plain function behind the Celery task.

Prompt = system instructions + the top knowledge-base chunks + the customer's earlier tickets and our replies
(newest two, redacted: a follow-up's answer depends on what was promised) + the ticket + its intent. The
draft is checked by the guardrails. A draft that is empty, degenerate, in another language than the
ticket, or says something unsafe (a template placeholder, "contact customer service", a promise or refusal
no cited article supports, a figure contradicting an article) is replaced by the intent's template in the
ticket's language; the flags and reasons stay on the stored draft. A generator is not even asked when its
bundle lists the languages it writes and the ticket's is not one, or when it was never fine-tuned (an
untuned model is never a draft source unless `HELPLOOP_DRAFT_ALLOW_UNTUNED_GENERATOR` says so).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.drafting.consensus import choose, sampled_drafts
from shared.drafting.guardrails import UNUSABLE, Flag, GuardrailReport, check_draft
from shared.drafting.history import prompt_history
from shared.drafting.models import Draft
from shared.drafting.prompt import EarlierTicket, Passage, build_prompt
from shared.drafting.references import repeats_reference
from shared.drafting.resample import first_clean, resample_configs
from shared.drafting.templates import fallback_reply
from shared.kb.search import relevant_passages
from shared.metrics import DRAFT_CANDIDATES, DRAFT_RESAMPLES, DRAFTS, DRAFTS_FLAGGED, INFERENCE_DURATION
from shared.runtime.generator import Generation, GenerationConfig
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)


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
    allow_untuned: bool = False  # an untuned generator's drafts are used (evaluation only)
    history_retention_days: float = 365.0  # how far back the customer's earlier tickets enter the prompt
    resample_attempts: int = 2  # a flagged draft is sampled again up to this often (shared/drafting/resample)
    candidates: int = 1  # drafts per ticket, the most agreed one kept (shared/drafting/consensus)


@dataclass(frozen=True)
class TicketFacts:
    text: str
    intent: str | None
    customer_name: str | None
    language: str | None  # detected from the text at triage (the helpdesk's tag when detection failed)
    history: tuple[EarlierTicket, ...] = ()  # this customer's earlier tickets and our replies
    original: str = ""  # subject and body as received (quoted history, signature): what a draft may cite
    received: date | None = None  # the day it came (how recent an earlier ticket it may follow up)


def load_facts(session: Session, ticket_id: str, *, retention_days: float) -> TicketFacts | DraftOutcome:
    """What the prompt needs of a classified ticket (MISSING / NOT_CLASSIFIED when there is nothing)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return DraftOutcome.MISSING
    result = ticket.latest_result
    if result is None:
        return DraftOutcome.NOT_CLASSIFIED
    intent = None if result.out_of_scope else result.label
    history = prompt_history(session, ticket, retention_days=retention_days)
    language = result.language or ticket.language
    return TicketFacts(
        ticket.text,
        intent,
        ticket.customer_name,
        language,
        tuple(history),
        ticket.original_text,
        ticket.received_at.date(),
    )


def _load(
    session: Session, ticket_id: str, version: str, *, retention_days: float
) -> TicketFacts | DraftOutcome:
    done = select(Draft.id).where(Draft.ticket_id == ticket_id, Draft.generator_version == version)
    if session.scalars(done).first() is not None:
        return DraftOutcome.ALREADY_DONE
    return load_facts(session, ticket_id, retention_days=retention_days)


def retrieve_passages(context: DraftContext, text: str) -> list[Passage]:
    return relevant_passages(
        context.knowledge.get(), text, k=context.kb_passages, min_score=context.min_kb_score
    )


def skip_reason(context: DraftContext, generator: Any, facts: TicketFacts) -> GuardrailReport | None:
    """Why the generator is not asked at all (the ticket gets its template), or None."""
    languages = getattr(generator, "languages", None)
    if languages and facts.language and facts.language not in languages:
        reason = f"the generator does not write {facts.language}: the {facts.language} template instead"
        return GuardrailReport([Flag.LANGUAGE_NOT_SERVED], [reason])
    if not getattr(generator, "fine_tuned", False) and not context.allow_untuned:
        reason = f"generator {generator.version} was never fine-tuned: the template instead"
        return GuardrailReport([Flag.UNTUNED_GENERATOR], [reason])
    return None


def _check(facts: TicketFacts, passages: list[Passage], generation: Generation) -> GuardrailReport:
    return check_draft(
        generation.text,
        ticket_text=facts.original or facts.text,  # an order number quoted from the thread is grounded
        cited_articles=[p.cited_text() for p in passages],
        language=facts.language,
        customer_name=facts.customer_name,
        history=[e.grounding_text() for e in facts.history],
    )


def generate_checked(
    context: DraftContext, generator: Any, facts: TicketFacts, passages: list[Passage]
) -> tuple[Generation, GuardrailReport]:
    skipped = skip_reason(context, generator, facts)
    if skipped is not None:
        return Generation("", [], 0, "skipped", 0.0, 0.0), skipped
    prompt = build_prompt(
        ticket=facts.text,
        intent=facts.intent,
        passages=passages,
        customer_name=facts.customer_name,
        history=list(facts.history),
        language=facts.language if getattr(generator, "prompt_language", False) else None,
    )

    def generate(config: GenerationConfig) -> Generation:
        with INFERENCE_DURATION.labels("generate").time():
            return generator.generate([prompt], config)[0]

    check = functools.partial(_check, facts, passages)
    first = generate(context.generation)
    report = check(first)
    if context.candidates > 1:
        first, report = _most_agreed(generator, prompt, (first, report), context, check)
    generation, report, attempts = first_clean(
        (first, report),
        generate=generate,
        check=check,
        configs=resample_configs(context.generation, context.resample_attempts),
        prefer=repeats_reference(facts.text, facts.history, today=facts.received, intent=facts.intent),
    )
    if attempts:
        DRAFT_RESAMPLES.labels("clean" if report.ok else "still_flagged").inc()
        log.info("draft sampled again %d time(s): %s", attempts, "clean" if report.ok else report.flags)
    return generation, report


def _most_agreed(
    generator: Any,
    prompt: str,
    greedy: tuple[Generation, GuardrailReport],
    context: DraftContext,
    check: Callable[[Generation], GuardrailReport],
) -> tuple[Generation, GuardrailReport]:
    """The greedy draft (checked already) and `context.candidates - 1` sampled ones: the clean one they
    agree on most."""
    with INFERENCE_DURATION.labels("generate").time():
        sampled = sampled_drafts(generator.generate, [prompt], context.generation, context.candidates - 1)
    drafts = [greedy[0], *sampled[0]]
    reports = [greedy[1], *(check(d) for d in sampled[0])]
    kept, index = choose(drafts, clean=[r.ok for r in reports])
    DRAFT_CANDIDATES.labels("greedy" if index == 0 else "sampled").inc()
    return kept, reports[index]


def draft_fields(
    facts: TicketFacts, passages: list[Passage], outcome: tuple[Generation, GuardrailReport]
) -> dict[str, Any]:
    """What is stored of a draft: the model's text, or the intent's template when it is unusable."""
    generation, report = outcome
    unusable = bool(UNUSABLE & set(report.flags))
    text = (
        fallback_reply(intent=facts.intent, customer_name=facts.customer_name, language=facts.language)
        if unusable
        else generation.text
    )
    return {
        "source": "template" if unusable else "model",
        "text": text,
        "citations": list(dict.fromkeys(p.source_id for p in passages)),
        "flags": report.flags,
        "reasons": report.reasons,
        "intent": facts.intent,
        "tokens": generation.tokens,
        "latency_ms": generation.seconds * 1000.0,
    }


def _draft_row(
    ticket_id: str,
    version: str,
    facts: TicketFacts,
    passages: list[Passage],
    outcome: tuple[Generation, GuardrailReport],
) -> Draft:
    fields = draft_fields(facts, passages, outcome)
    return Draft(
        ticket_id=ticket_id, generator_version=version, prompt_tokens=outcome[0].prompt_tokens, **fields
    )


def draft_reply(*, ticket_id: str, context: DraftContext) -> DraftOutcome:
    """Idempotent per (ticket, generator version)."""
    generator = context.generator.get()
    with session_scope(context.session_factory) as session:
        facts = _load(session, ticket_id, generator.version, retention_days=context.history_retention_days)
    if isinstance(facts, DraftOutcome):
        return facts
    started = time.perf_counter()
    passages = retrieve_passages(context, facts.text)
    generation, report = generate_checked(context, generator, facts, passages)
    row = _draft_row(ticket_id, generator.version, facts, passages, (generation, report))
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
