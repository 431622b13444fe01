"""The nightly run's second half: retrain the reply generator from agents' final replies, behind a gate.

Dataset: every resolution that carries the agent's reply (ticket and reply PII-redacted again,
deduplicated, the newest of a pair wins; training replies lose the sentences the guardrails would stop,
`shared.drafting.cleaning`), each with the knowledge-base passages the drafting workers would
show for its ticket, its final intent and the customer's earlier tickets with our replies; the newest
slice (`recent_fraction`, at least `MIN_HOLDOUT`) is the team's own hold-out, never trained on. The
candidate is fine-tuned from the base model on the lineage's base data (the demo shop's replies when the
active generator came from `train-generator --demo`) plus the older resolutions, with the active
generator's recipe, then served as w8 like `train-generator`.

Gate, on the hold-out, judged on what tickets would get (`evaluate_generators(serve=True)`): each
generator's drafts as the drafting workers serve them (a flagged draft sampled again
`draft_resample_attempts` times, one still unusable replaced by the intent's template), retrieval's past
reply re-greeted to the customer and likewise replaced when unusable. The candidate's chrF and ROUGE-L at
least the active generator's, its chrF at least retrieval's, and its flag rate after resampling (the share
of tickets that get a template or a marked draft) not above the active one's. Only then is it activated
(the drafting workers swap to it); otherwise it stays published, not active. The greedy rows stay in the
report beside them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.trainer.generation.data import ReplyExample, learnable
from services.trainer.retrain.dataset import normalized
from shared import model_lifecycle as lifecycle
from shared.db import session_scope
from shared.drafting.history import prompt_history
from shared.drafting.prompt import Passage
from shared.integrations.models import Resolution
from shared.pii import redact
from shared.registry import Registry
from shared.settings import Settings
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)
MIN_HOLDOUT = 10
MIN_REPLIES = 30  # fewer resolutions with a reply than this: no generator candidate


@dataclass
class GeneratorData:
    train: list[ReplyExample]
    holdout: list[ReplyExample]
    stats: dict[str, int]


def load_replies(
    session_factory: sessionmaker[Session], *, limit: int, retention_days: float = 365.0
) -> list[ReplyExample]:
    """Resolutions with the agent's reply, oldest first, PII-redacted, one per (ticket, reply) pair, each
    with the customer's earlier tickets and our replies as the drafting prompt showed them."""
    query = (
        select(Resolution.text, Resolution.reply, Resolution.final_labels, Ticket)
        .join(Ticket, Ticket.id == Resolution.ticket_id)
        .where(Resolution.reply.is_not(None))
        .order_by(Resolution.resolved_at.desc())
        .limit(limit)
    )
    newest: dict[tuple[str, str], ReplyExample] = {}
    with session_scope(session_factory) as session:
        for text, reply, labels, ticket in session.execute(query).all():  # newest first: first of a pair wins
            if not text or not reply or not reply.strip():
                continue
            ticket_text, reply_text = redact(text), redact(reply)
            key = (normalized(ticket_text), normalized(reply_text))
            if key in newest:
                continue
            history = prompt_history(session, ticket, retention_days=retention_days)
            label = (labels or {}).get("label") or None
            newest[key] = ReplyExample(ticket_text, reply_text, label, [], ticket.customer_name, history)
    return list(reversed(newest.values()))


def split_holdout(
    examples: list[ReplyExample], fraction: float
) -> tuple[list[ReplyExample], list[ReplyExample]]:
    """(older, newest slice): the candidate is judged on the future, as the classifier is."""
    size = max(MIN_HOLDOUT, math.ceil(len(examples) * fraction))
    return examples[:-size], examples[-size:]


def with_passages(
    examples: list[ReplyExample], retrieve: Callable[[str], list[Passage]]
) -> list[ReplyExample]:
    return [replace(e, passages=retrieve(e.ticket)) for e in examples]


def build_generator_data(
    *,
    session_factory: sessionmaker[Session],
    retrieve: Callable[[str], list[Passage]],
    base: list[ReplyExample],
    recent_fraction: float,
    limit: int,
    retention_days: float = 365.0,
) -> GeneratorData | None:
    """None when fewer than `MIN_REPLIES` resolutions carry a reply."""
    replies = load_replies(session_factory, limit=limit, retention_days=retention_days)
    if len(replies) < MIN_REPLIES:
        return None
    older, holdout = split_holdout(replies, recent_fraction)
    held = {normalized(e.ticket) for e in holdout}
    base = [e for e in base if normalized(e.ticket) not in held]
    team = learnable(older)  # the hold-out keeps the agents' replies as sent: what drafts are judged against
    train = [*base, *with_passages(team, retrieve)]
    stats = {
        "replies": len(replies),
        "team_train": len(team),
        "team_unlearnable": len(older) - len(team),
        "base": len(base),
        "holdout": len(holdout),
    }
    return GeneratorData(train, with_passages(holdout, retrieve), stats)


def judge_generator(
    candidate: dict[str, Any], active: dict[str, Any], retrieval: dict[str, Any]
) -> list[str]:
    """Why the candidate may not replace the active generator ([] = it may)."""
    reasons = []
    for metric in ("chrf", "rouge_l"):
        if candidate[metric] < active[metric]:
            reasons.append(
                f"{metric} {candidate[metric]:.1f} below the active generator's {active[metric]:.1f}"
            )
    if candidate["chrf"] < retrieval["chrf"]:
        reasons.append(
            f"chrf {candidate['chrf']:.1f} below retrieval of a past reply ({retrieval['chrf']:.1f})"
        )
    if candidate["guardrail_flag_rate"] > active["guardrail_flag_rate"]:
        reasons.append(
            f"guardrail flag rate {candidate['guardrail_flag_rate']:.1%} above the active generator's "
            f"{active['guardrail_flag_rate']:.1%}"
        )
    return reasons


def lineage_base(
    registry: Registry, version: str, retrieve: Callable[[str], list[Passage]]
) -> list[ReplyExample]:
    """The base data the active generator was trained on, regenerated: the demo shop's replies (and its
    follow-ups with the customer's history)."""
    from services.trainer.generation.data import demo_reply_examples

    demo = registry.manifest(version).get("lineage", {}).get("demo")
    if not demo:
        return []
    return demo_reply_examples(
        retrieve=retrieve,
        per_intent=int(demo["per_intent"]),
        seed=int(demo["seed"]),
        languages=tuple(demo.get("languages", ("en",))),
        followups=int(demo.get("followups", 0)),
    )


def _retriever(
    settings: Settings, session_factory: sessionmaker[Session]
) -> tuple[Any, Callable[[str], list[Passage]]]:
    """The active sentence encoder and the drafting workers' passage retrieval over the team's KB."""
    from shared.kb.search import KnowledgeBase, relevant_passages
    from shared.runtime.encoder import SentenceEncoder

    encoders = Registry(settings.encoder_registry_dir)
    version = encoders.active_version()
    if version is None:
        raise RuntimeError("no active sentence encoder: run `helploop kb build-encoder`")
    encoder = SentenceEncoder(encoders.bundle_dir(version), version=version)
    knowledge = KnowledgeBase(session_factory, encoder)
    k, floor = settings.draft_kb_passages, settings.draft_min_kb_score
    return encoder, lambda text: relevant_passages(knowledge, text, k=k, min_score=floor)


def _candidate(registry: Registry, active: str, data: GeneratorData, settings: Settings, run_id: str) -> str:
    """Fine-tuned like the active generator: its base model, recipe and served quantization."""
    from services.trainer.generation.base import DEFAULT_GENERATOR_BASE
    from services.trainer.generation.pipeline import build_generator
    from services.trainer.generation.train import GeneratorTrainConfig
    from services.trainer.quantize import quantize_bundle

    manifest = registry.manifest(active)
    recipe = manifest.get("training_config") or {}
    config = GeneratorTrainConfig(**recipe) if recipe else GeneratorTrainConfig(train_layers=15, max_steps=60)
    parent = build_generator(
        registry=registry,
        cache_dir=settings.cache_dir,
        examples=data.train,
        config=config,
        activate=False,
        manifest_extra={"lineage": manifest.get("lineage", {}), "retrain": {"run_id": run_id, **data.stats}},
        base=(manifest.get("base_model") or {}).get("name", DEFAULT_GENERATOR_BASE),
    )
    serve = manifest.get("lineage", {}).get("serve", "w8")
    if serve == "fp32":
        return parent
    return quantize_bundle(registry, parent, mode=serve, activate=False, graph="decoder.onnx")


def _promote_generator(
    registry: Registry, candidate: str, promote: str, redis_client: redis.Redis | None
) -> str:
    """A candidate that passed the gate serves (activate), drafts beside the active one on live tickets
    (shadow: `GET /v1/drafts/shadow-report` scores it on agents' replies) or waits (none)."""
    if promote == "shadow":
        lifecycle.set_shadow_model(
            registry=registry, version=candidate, redis_client=redis_client, kind="generator"
        )
        return "shadow"
    if promote == "none":
        return "passed"
    lifecycle.activate_model(
        registry=registry, version=candidate, redis_client=redis_client, kind="generator"
    )
    return "promoted"


def _compare(
    registry: Registry, settings: Settings, data: Any, encoder: Any, *, candidate: str, active: str
) -> dict[str, Any]:
    """The candidate and the active generator drafting the hold-out as drafting serves them."""
    from services.trainer.generation.evaluate import evaluate_generators, scores_only
    from shared.runtime.generator import GenerationConfig, OnnxGenerator

    config = GenerationConfig(
        max_new_tokens=settings.draft_max_new_tokens,
        repetition_penalty=settings.draft_repetition_penalty,
        no_repeat_ngram=settings.draft_no_repeat_ngram,
        stop_strings=("<|im_end|>", "<|im_start|>"),
    )
    generators = {
        name: OnnxGenerator(registry.bundle_dir(v), version=v)
        for name, v in (("candidate", candidate), ("active", active))
    }
    report = evaluate_generators(
        train=data.train,
        test=data.holdout,
        encoder=encoder,
        generators=generators,
        config=config,
        keep_passages=True,
        resample=settings.draft_resample_attempts,
        serve=True,
    )
    return scores_only(report)  # the run's record keeps no per-ticket texts


def gate_rows(systems: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(candidate, active, retrieval) as the gate judges them: scores as served, and a generator's flag
    rate after resampling (before its unusable drafts are replaced by the template)."""
    rows = {row["system"]: row for row in systems}

    def generator(name: str) -> dict[str, Any]:
        resampled = next((r for s, r in rows.items() if s.startswith(f"{name}, flagged drafts")), rows[name])
        return {**rows[f"{name}, as served"], "guardrail_flag_rate": resampled["guardrail_flag_rate"]}

    return generator("candidate"), generator("active"), rows["nearest-neighbour retrieval, as served"]


def retrain_generator(
    *,
    run_id: str,
    settings: Settings,
    session_factory: sessionmaker[Session],
    promote: str = "activate",
    redis_client: redis.Redis | None = None,
) -> dict[str, Any]:
    """Train, evaluate and gate a generator candidate; the step's report (status promoted, shadow, passed,
    rejected or skipped, with reasons). `promote` as the run asked: activate, shadow or none."""
    registry = Registry(settings.generator_registry_dir)
    active = registry.active_version()
    if active is None:
        return {"status": "skipped", "reasons": ["no active generator (make run or train-generator --demo)"]}
    encoder, retrieve = _retriever(settings, session_factory)
    data = build_generator_data(
        session_factory=session_factory,
        retrieve=retrieve,
        base=lineage_base(registry, active, retrieve),
        recent_fraction=settings.retrain_recent_fraction,
        limit=settings.retrain_max_resolutions,
        retention_days=settings.history_retention_days,
    )
    if data is None:
        reasons = [f"fewer than {MIN_REPLIES} replies"]
        return {"status": "skipped", "active_version": active, "reasons": reasons}
    candidate = _candidate(registry, active, data, settings, run_id)
    report = _compare(registry, settings, data, encoder, candidate=candidate, active=active)
    reasons = judge_generator(*gate_rows(report["systems"]))
    adoption = _active_adoption(session_factory, active)
    status = "rejected" if reasons else _promote_generator(registry, candidate, promote, redis_client)
    gate = "; ".join(reasons) or "gate passed"
    log.info("training run %s: generator %s %s (%s)", run_id, candidate, status, gate)
    return {
        "status": status,
        "active_version": active,
        "candidate_version": candidate,
        "reasons": reasons,
        "dataset": data.stats,
        "evaluation": report,
        "active_adoption_30d": adoption,  # what agents did with the active generator's drafts
    }


def _active_adoption(session_factory: sessionmaker[Session], version: str) -> dict[str, Any] | None:
    """The active generator's adoption over 30 days (None without resolved drafts): beside the offline
    scores in the report, so a team sees whether the generator it replaces was kept by agents."""
    from shared.drafting.adoption_service import adoption_report

    report = adoption_report(session_factory=session_factory, window_days=30)
    return report["per_generator_version"].get(version)
