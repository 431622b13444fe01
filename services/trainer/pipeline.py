"""`helploop train`: load data → fine-tune → calibrate → export → parity check → publish (→ activate)."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.config import TrainConfig
from services.trainer.data import Example, load_examples, stratified_split
from shared.registry import Registry, new_version_id, sha256_file
from shared.runtime.classifier import HeadSpec
from shared.runtime.language import detect_language

log = logging.getLogger(__name__)
MIN_LANGUAGE_SHARE = 0.02


@dataclass(frozen=True)
class TrainingResult:
    version: str
    bundle_dir: Path
    metrics: dict[str, Any]
    activated: bool


def load_splits(config: TrainConfig) -> tuple[list[Example], list[Example]]:
    columns = {"text_column": config.text_column, "head_columns": config.head_columns}
    examples = load_examples(config.train_file, **columns)
    if config.valid_file is not None:
        return examples, load_examples(config.valid_file, **columns)
    return stratified_split(examples, valid_fraction=config.valid_fraction, seed=config.seed)


def training_languages(examples: list[Example], sample: int = 500) -> list[str]:
    """Languages making up at least 2 % of (a sample of) the training texts."""
    counts = Counter(detect_language(e.text).language for e in examples[:sample])
    counts.pop(None, None)
    total = sum(counts.values())
    return sorted(lang for lang, n in counts.items() if total and n / total >= MIN_LANGUAGE_SHARE)


def _code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _manifest(config: TrainConfig, base: dict[str, Any], parity: float) -> dict[str, Any]:
    data_files = [p for p in (config.train_file, config.valid_file) if p is not None]
    return {
        "task": "multi-head-classification",
        "created_at": datetime.now(UTC).isoformat(),
        "base_model": base,
        "training_config": config.to_json(),
        "data": {str(p): sha256_file(p) for p in data_files},
        "code_version": _code_version(),
        "onnx_parity_max_abs_diff": parity,
    }


def fit_embedding_rule(outcome: Any, train: list[Example], config: TrainConfig, labels: list[str]) -> Any:
    """Class Gaussians on the fine-tuned embeddings of the in-scope training tickets of the primary head."""
    from services.trainer.train import EMBEDDING, gold_ids, predict_outputs
    from shared.runtime.ood import fit_class_gaussians

    gold = gold_ids(train, config.primary_head, labels)
    keep = (gold >= 0) & (gold != (labels.index(config.oos_label) if config.oos_label in labels else -1))
    texts = [e.text for e, kept in zip(train, keep, strict=True) if kept]
    embeddings = predict_outputs(outcome.model, outcome.tokenizer, texts, config.max_length)[EMBEDDING]
    return fit_class_gaussians(embeddings, gold[keep])


def _primary_rule(
    outcome: Any,
    train: list[Example],
    config: TrainConfig,
    valid_outputs: dict,
    gold: np.ndarray,
    **kwargs: Any,
) -> tuple[dict[str, Any], Any, Any]:
    """The primary head's out-of-scope rule: max-prob, energy or Mahalanobis, whichever validation prefers."""
    from services.trainer.calibration import choose_rejection
    from services.trainer.train import EMBEDDING, IGNORE
    from shared.runtime.ood import MAHALANOBIS

    head = config.primary_head
    known = gold != IGNORE
    gaussians = fit_embedding_rule(outcome, train, config, outcome.head_labels[head])
    extra = {MAHALANOBIS: gaussians.score(valid_outputs[EMBEDDING][known])}
    rule = choose_rejection(valid_outputs[head][known], gold[known], extra_scores=extra, **kwargs)
    spec = {"reject_method": rule.method, "reject_threshold": rule.threshold}
    if rule.method == MAHALANOBIS:
        spec["ood_stats"] = f"ood_{head}.npz"
    return spec, rule, gaussians


def rejection_options(config: TrainConfig, temperature: float, oos_index: int | None) -> dict[str, Any]:
    """What `choose_rejection` is given for the primary head: with OOS examples in validation the in-scope
    accuracy it may cost, without them the share of known tickets it sets aside."""
    return {
        "temperature": temperature,
        "oos_index": oos_index,
        "max_in_scope_drop": config.oos_max_in_scope_drop,
        "max_false_rejection": config.oos_reject_rate,
    }


def _lexical(
    vocabulary: Any,
    train: list[Example],
    valid: list[Example],
    head: str,
    labels: list[str],
    outputs: dict,
    gold: np.ndarray,
) -> tuple[Any, dict[str, Any]]:
    """The head's lexical companion where validation keeps it (`services/trainer/lexical.py`), its scores
    then added to `outputs[head]` (so that temperature and rejection rule are fitted on what serves)."""
    from services.trainer.lexical import fit_lexical
    from services.trainer.train import IGNORE

    if vocabulary is None:
        return None, {"used": False, "reason": "lexical: never"}
    known = gold != IGNORE
    texts = [e.text for e, kept in zip(valid, known, strict=True) if kept]
    fit, report = fit_lexical(
        vocabulary,
        train,
        texts,
        head=head,
        labels=labels,
        valid_logits=outputs[head][known],
        valid_gold=gold[known],
    )
    if fit is not None:
        outputs[head] = outputs[head] + fit.weight * fit.head().scores(
            vocabulary.runtime.rows([e.text for e in valid])
        )
    return fit, report


def calibrate_heads(
    outcome: Any, train: list[Example], valid: list[Example], config: TrainConfig, staging: Path
) -> tuple[list[HeadSpec], dict]:
    """Temperature per head and, for the primary head, the out-of-scope rule, all fitted on validation
    (the Mahalanobis rule's class statistics on training embeddings, saved into the bundle)."""
    from services.trainer.calibration import calibrate_head
    from services.trainer.lexical import LexicalVocabulary, refit_on_all
    from services.trainer.train import IGNORE, gold_ids, predict_outputs

    outputs = dict(outcome.valid_outputs) or predict_outputs(
        outcome.model, outcome.tokenizer, [e.text for e in valid], config.max_length
    )
    vocabulary = None if config.lexical == "never" else LexicalVocabulary.fit([e.text for e in train])
    specs, report, kept = [], {}, {}
    for head, labels in outcome.head_labels.items():
        spec: dict[str, Any] = {"name": head, "output": f"logits_{head}", "labels": labels}
        oos = config.oos_label if config.oos_label in labels else None
        spec["oos_label"] = oos
        gold = gold_ids(valid, head, labels)
        known = gold != IGNORE
        if known.sum() >= 2:
            lexical, report.setdefault(head, {})["lexical"] = _lexical(
                vocabulary, train, valid, head, labels, outputs, gold
            )
            if lexical is not None:
                spec.update(lexical.spec())
                kept[head] = (lexical, labels)
        if config.calibrate and known.sum() >= 2:
            calibration = calibrate_head(outputs[head][known], gold[known])
            spec["temperature"] = calibration.temperature
            report.setdefault(head, {})["calibration"] = asdict(calibration)
            if head == config.primary_head:
                options = rejection_options(
                    config, calibration.temperature, labels.index(oos) if oos else None
                )
                rule_spec, rule, gaussians = _primary_rule(outcome, train, config, outputs, gold, **options)
                spec.update(rule_spec)
                if "ood_stats" in rule_spec:
                    gaussians.save(staging / rule_spec["ood_stats"])
                report[head]["rejection"] = rule.to_json()
        specs.append(HeadSpec(**spec))
    if kept:  # the weights chosen: the companions refitted on every labelled ticket, then saved
        refit_on_all(kept, train + valid).save(staging)
        for fit, _ in kept.values():
            fit.save(staging)
    return specs, report


def _build_bundle(
    config: TrainConfig,
    outcome: Any,
    train: list[Example],
    valid: list[Example],
    staging: Path,
    *,
    graph_cache: Path | None = None,
) -> tuple[float, dict[str, Any]]:
    """Calibration, the bundle's files, the ONNX graph (by weights into a kept graph where one fits:
    `export_reuse`) and its parity with PyTorch; a kept graph that misses parity is marked unusable and the
    model traced afresh."""
    from services.trainer.export import ExportParityError, check_parity, export_onnx, write_bundle_files
    from services.trainer.export_reuse import mark_unusable

    heads, calibration = calibrate_heads(outcome, train, valid, config, staging)
    write_bundle_files(
        outcome.tokenizer,
        staging,
        heads=heads,
        max_length=config.max_length,
        languages=training_languages(train),
        long_text=config.long_text,
    )
    log.info("exporting ONNX (into a kept graph of this structure, else traced by dynamo)...")
    export = partial(export_onnx, outcome.model, outcome.tokenizer, staging, max_length=config.max_length)
    kept = export(graph_cache=graph_cache)
    held_out = [e.text for e in (valid or train)[:64]]
    parity = partial(
        check_parity,
        outcome.model,
        outcome.tokenizer,
        staging,
        held_out,
        max_length=config.max_length,
        tolerance=config.parity_tolerance,
    )
    try:
        return parity(), calibration
    except ExportParityError:
        if kept is None:
            raise
        log.warning("the graph kept for these weights misses parity: traced afresh, the kept one set aside")
        mark_unusable(kept)
        export()
        return parity(), calibration


def _recipe_summary(config: TrainConfig) -> str:
    return (
        f"{config.epochs} epochs, early stop on {config.early_stopping_metric} (patience {config.patience}), "
        f"label smoothing {config.label_smoothing}"
    )


def run_training(
    config: TrainConfig,
    *,
    registry: Registry,
    cache_dir: Path,
    activate: bool = False,
    manifest_extra: dict[str, Any] | None = None,
) -> TrainingResult:
    """`cache_dir`: converted base weights (`Settings.cache_dir`); `manifest_extra`: lineage of a retrained
    candidate (parent version, dataset fingerprint, run id)."""
    import tempfile

    from services.trainer.base_prep import prepare_base, trim_effect
    from services.trainer.train import fine_tune

    started = time.perf_counter()
    train, valid = load_splits(config)
    log.info("training on %d examples, validating on %d", len(train), len(valid))
    with registry.staging() as staging:
        with tempfile.TemporaryDirectory(prefix="helploop-base-") as workdir:
            prepared = prepare_base(config, train, cache_dir=cache_dir, workdir=Path(workdir))
            config = config.for_base(prepared.base.name)
            log.info("training recipe (%s): %s", prepared.base.name, _recipe_summary(config))
            outcome = fine_tune(
                config, str(prepared.model_dir), train, valid, log_dir=staging / "tensorboard"
            )
        graphs = cache_dir / "export-graphs"
        parity, calibration = _build_bundle(config, outcome, train, valid, staging, graph_cache=graphs)
        metrics = {
            "validation": outcome.best,
            "history": outcome.history,
            "steps": outcome.steps,
            "precision": outcome.precision,
            "few_shot": outcome.few_shot,
            "calibration": calibration,
            "train_examples": len(train),
            "valid_examples": len(valid),
            "heads": outcome.head_labels,
            "vocabulary_trim": trim_effect(
                outcome, prepared, valid, config, after=outcome.valid_outputs.get(config.primary_head)
            ),
            "train_seconds": round(time.perf_counter() - started, 1),
        }
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
        version = new_version_id()
        manifest = {**_manifest(config, prepared.manifest(), parity), **(manifest_extra or {})}
        bundle = registry.publish(staging, version=version, manifest=manifest)
    if activate:
        registry.activate(version)
    return TrainingResult(version, bundle, metrics, activated=activate)
