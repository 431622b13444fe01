"""One retraining run, as a plain function the Celery task and the CLI call: build the dataset, train a
candidate with the active model's recipe, evaluate candidate and active model on the same test sets, gate,
then promote (activate or shadow) or reject. Nothing changes in production unless the gate passes."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from services.trainer.base_model import MINILM_L6
from services.trainer.config import TrainConfig
from services.trainer.data import Example
from services.trainer.retrain.dataset import RetrainData, build_dataset, load_label_map, load_resolutions
from services.trainer.retrain.gate import GateConfig, GateVerdict, judge
from shared import model_lifecycle as lifecycle
from shared.learning.models import RunStatus
from shared.learning.runs import finish_run, start_run
from shared.registry import Registry
from shared.settings import Settings

log = logging.getLogger(__name__)


class RetrainError(Exception):
    """The run cannot proceed (no active model, base data missing); the message says why."""


@dataclass
class RetrainContext:
    session_factory: sessionmaker[Session]
    registry: Registry
    redis: redis.Redis | None
    settings: Settings


def gate_config(settings: Settings) -> GateConfig:
    return GateConfig(
        max_macro_f1_drop=settings.gate_max_macro_f1_drop,
        max_class_f1_drop=settings.gate_max_class_f1_drop,
        min_class_support=settings.gate_min_class_support,
        max_ece=settings.gate_max_ece,
        min_ece_examples=settings.gate_min_ece_examples,
    )


def _base_file(manifest: dict[str, Any], settings: Settings) -> Path:
    lineage = manifest.get("retrain", {}).get("base_file")
    path = Path(settings.retrain_base_file or lineage or manifest["training_config"]["train_file"])
    if not path.is_file():
        raise RetrainError(f"base training data {path} not found (set HELPLOOP_RETRAIN_BASE_FILE)")
    return path


def candidate_config(recipe: dict[str, Any], train_file: Path, settings: Settings) -> TrainConfig:
    """The active model's recipe on the new data (validation split from it); quick-run overrides."""
    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in recipe.items() if k in known}
    if "base_model" not in recipe:  # a parent from before the base was a choice: MiniLM, or a local dir
        values["base_model"] = recipe.get("base_model_dir") or MINILM_L6
    values.update(train_file=train_file, valid_file=None)
    if settings.retrain_epochs is not None:  # whole epochs: the recipe's step cap no longer applies
        values.update(epochs=settings.retrain_epochs, max_steps=None)
    if settings.retrain_max_steps is not None:
        values["max_steps"] = settings.retrain_max_steps
    return TrainConfig(**values)


def _evaluate(registry: Registry, version: str, sets: dict[str, list[Example]]) -> dict[str, Any]:
    from services.trainer.evaluate import evaluate_bundle
    from shared.runtime.classifier import OnnxClassifier

    registry.verify(version)
    classifier = OnnxClassifier(registry.bundle_dir(version), version=version)
    return {name: evaluate_bundle(classifier, examples, latency=False) for name, examples in sets.items()}


def _promote(context: RetrainContext, version: str, verdict: GateVerdict, promote: str) -> str:
    if not verdict.passed:
        context.registry.reject(version, verdict.reasons)
        return RunStatus.REJECTED
    if promote == "activate":
        lifecycle.activate_model(registry=context.registry, version=version, redis_client=context.redis)
        return RunStatus.PROMOTED
    if promote == "shadow":
        lifecycle.set_shadow_model(registry=context.registry, version=version, redis_client=context.redis)
        return RunStatus.SHADOW
    return RunStatus.PASSED


def _new_resolutions(resolved: list[Any], manifest: dict[str, Any]) -> int:
    created = datetime.fromisoformat(manifest["created_at"])
    return sum(r.resolved_at > created for r in resolved)


def _dataset(
    run_id: str, manifest: dict[str, Any], resolved: list[Any], context: RetrainContext
) -> RetrainData:
    recipe, settings = manifest["training_config"], context.settings
    return build_dataset(
        base_file=_base_file(manifest, settings),
        resolved=resolved,
        head_columns=recipe["head_columns"],
        text_column=recipe.get("text_column", "text"),
        out_dir=settings.training_dir / run_id,
        recent_fraction=settings.retrain_recent_fraction,
        golden_file=settings.golden_set_file,
        label_map=load_label_map(settings.retrain_label_map_file),
    )


def _train_candidate(
    run_id: str, active: str, manifest: dict, data: RetrainData, context: RetrainContext
) -> str:
    from services.trainer.pipeline import run_training

    config = candidate_config(manifest["training_config"], data.train_file, context.settings)
    extra = {
        "parent_version": active,
        "dataset": {"fingerprint": data.fingerprint, **data.stats, "golden_source": data.golden_source},
        "retrain": {"run_id": run_id, "base_file": str(_base_file(manifest, context.settings))},
    }
    trained = run_training(
        config, registry=context.registry, cache_dir=context.settings.cache_dir, manifest_extra=extra
    )
    return served_like(context.registry, manifest, trained.version)


def served_like(registry: Registry, active_manifest: dict[str, Any], trained: str) -> str:
    """The candidate in the precision the active model serves: an int8 active model (its int8 child,
    activated where its accuracy holds: `helploop train --serve int8`, or `helploop export --quantize int8
    --activate` after `make eval`) gets an int8 candidate — of the fused graph when it was the fused
    graph's — so the gate judges what would serve and a retrain never returns to fp32 unasked. An fp32
    active model: the candidate as trained."""
    if not str(active_manifest.get("quantization") or "").startswith("int8"):
        return trained
    from services.trainer.optimize import fuse_bundle
    from services.trainer.quantize import quantize_bundle

    fused = str(active_manifest.get("parent_version") or "").endswith("-fused")
    return quantize_bundle(registry, fuse_bundle(registry, trained) if fused else trained, mode="int8")


def _gate(
    context: RetrainContext, data: Any, *, candidate: str, active: str, recipe: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    """Candidate and active model on the golden and recent sets, and the gate's verdict on them."""
    sets = {name: rows for name, rows in (("golden", data.golden), ("recent", data.recent)) if rows}
    evaluations = {
        "candidate": _evaluate(context.registry, candidate, sets),
        "active": _evaluate(context.registry, active, sets),
    }
    verdict = judge(
        evaluations["candidate"],
        evaluations["active"],
        primary_head=next(iter(recipe["head_columns"])),
        config=gate_config(context.settings),
    )
    return evaluations, verdict


def retrain(*, run_id: str, options: dict[str, Any], context: RetrainContext) -> dict[str, Any]:
    """The run's outcome as the columns to store: status, versions, reasons, dataset, report."""
    registry = context.registry
    active = registry.active_version()
    if active is None:
        raise RetrainError("no active model to retrain from: train the first one with `helploop train`")
    manifest = registry.manifest(active)
    recipe = manifest["training_config"]
    resolved = load_resolutions(
        context.session_factory,
        head_columns=recipe["head_columns"],
        limit=context.settings.retrain_max_resolutions,
    )
    new = _new_resolutions(resolved, manifest)
    outcome: dict[str, Any] = {"active_version": active}
    if new < context.settings.retrain_min_new_resolutions and not options.get("force"):
        needed = context.settings.retrain_min_new_resolutions
        reason = f"{new} new resolved ticket(s) since {active}; at least {needed} needed (or force)"
        return {**outcome, "status": RunStatus.SKIPPED, "reasons": [reason]}
    data = _dataset(run_id, manifest, resolved, context)
    candidate = _train_candidate(run_id, active, manifest, data, context)
    evaluations, verdict = _gate(context, data, candidate=candidate, active=active, recipe=recipe)
    status = _promote(context, candidate, verdict, options.get("promote", "activate"))
    generator = _generator_step(run_id, options, context)
    log.info(
        "training run %s: candidate %s %s (%s)",
        run_id,
        candidate,
        status,
        "; ".join(verdict.reasons) or "gate passed",
    )
    return {
        **outcome,
        "status": status,
        "candidate_version": candidate,
        "reasons": verdict.reasons,
        "dataset": {"fingerprint": data.fingerprint, "new_resolutions": new, **data.stats},
        "report": {
            "gate": verdict.to_json(),
            "golden_source": data.golden_source,
            "evaluations": evaluations,
            "generator": generator,
        },
    }


def _generator_step(run_id: str, options: dict[str, Any], context: RetrainContext) -> dict[str, Any]:
    """The reply generator's retraining (services/trainer/retrain/generator.py); its failure is reported
    in the run and never undoes the classifier's outcome."""
    from services.trainer.retrain.generator import retrain_generator

    if not context.settings.drafts_enabled or options.get("generator") is False:
        return {"status": "skipped", "reasons": ["drafts disabled or not asked for"]}
    try:
        return retrain_generator(
            run_id=run_id,
            settings=context.settings,
            session_factory=context.session_factory,
            promote=options.get("promote", "activate"),
            redis_client=context.redis,
        )
    except Exception as exc:
        log.exception("training run %s: the generator step failed", run_id)
        return {"status": "failed", "reasons": [f"{type(exc).__name__}: {exc}"[:500]]}


def run_retrain(*, run_id: str, context: RetrainContext) -> str:
    """queued → running → the outcome; a failure is stored with its reason (never retried blindly)."""
    options = start_run(session_factory=context.session_factory, run_id=run_id)
    if options is None:
        log.info("training run %s is not queued (a redelivery?); nothing to do", run_id)
        return "not_queued"
    try:
        outcome = retrain(run_id=run_id, options=options, context=context)
    except Exception as exc:
        log.exception("training run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000]
        finish_run(
            session_factory=context.session_factory, run_id=run_id, status=RunStatus.FAILED, error=error
        )
        return RunStatus.FAILED
    finish_run(session_factory=context.session_factory, run_id=run_id, **outcome)
    return outcome["status"]
