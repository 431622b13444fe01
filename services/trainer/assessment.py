"""`helploop evaluate`: a registered model on a test file, beside its baselines (zero-shot centroid,
TF-IDF + linear SVM), as a report."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

from services.trainer.base_model import base_dir_here
from services.trainer.baseline import run_baselines, side_by_side
from services.trainer.data import load_examples
from services.trainer.evaluate import evaluate_bundle, example_languages
from services.trainer.report import write_report
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier

log = logging.getLogger(__name__)


def resolve_version(registry: Registry, model: str) -> str:
    version = registry.active_version() if model == "active" else model
    if not version:
        raise LookupError(f"no active model in {registry.root}")
    return version


def _head_columns(manifest: dict[str, Any]) -> dict[str, str]:
    config = manifest.get("training_config", {})
    return config.get("head_columns") or {"intent": config.get("label_column", "label")}


def _comparison(
    registry: Registry, other: str, examples: list[Any], primary: str, model_eval: dict[str, Any]
) -> dict[str, Any]:
    registry.verify(other)
    result = evaluate_bundle(OnnxClassifier(registry.bundle_dir(other), version=other), examples)
    delta = model_eval["heads"][primary]["accuracy"] - result["heads"][primary]["accuracy"]
    return {"version": other, "heads": result["heads"], "accuracy_delta": delta, "latency": result["latency"]}


def _base_dir(manifest: dict[str, Any], cache_dir: Path | None) -> str | None:
    """The centroid baseline's encoder: the bundle's base, found again here where the directory the
    manifest recorded is on another machine or in another virtual environment."""
    base = base_dir_here(manifest.get("base_model") or {}, cache_dir=cache_dir)
    return str(base) if base else None


def run_evaluation(
    *,
    registry: Registry,
    model: str,
    test_file: Path,
    out_dir: Path,
    head_columns: dict[str, str] | None = None,
    baseline: bool = True,
    compare: str | None = None,
    tfidf_baseline: bool = True,
    cache_dir: Path | None = None,  # Settings.cache_dir: finds an e5 base again (`_base_dir`)
) -> dict[str, Any]:
    version = resolve_version(registry, model)
    manifest = registry.verify(version)
    bundle = registry.bundle_dir(version)
    config = manifest.get("training_config", {})
    columns = head_columns or _head_columns(manifest)
    examples = load_examples(test_file, text_column=config.get("text_column", "text"), head_columns=columns)
    classifier = OnnxClassifier(bundle, version=version)
    log.info("evaluating %s on %d examples from %s", version, len(examples), test_file)
    languages = example_languages(examples)
    model_eval = evaluate_bundle(classifier, examples, languages=languages)
    report: dict[str, Any] = {
        "model": {
            "version": version,
            "created_at": manifest.get("created_at"),
            "quantization": manifest.get("quantization"),
            "training_config": config,
        },
        "test_file": str(test_file),
        "model_eval": model_eval,
    }
    compare = compare or manifest.get("parent_version")
    if compare:
        report["comparison"] = _comparison(registry, compare, examples, classifier.heads[0].name, model_eval)
    baselines = run_baselines(
        config=config,
        test=examples,
        languages=languages,
        base_dir=_base_dir(manifest, cache_dir),
        max_length=classifier.max_length,
        centroid=baseline,
        tfidf=tfidf_baseline,
    )
    report |= {**baselines, **_lexical_part(classifier, examples, model_eval)}
    report["versus_baselines"] = side_by_side(model_eval, baselines["baseline"], baselines["tfidf_baseline"])
    metrics_path = bundle / "metrics.json"
    history = json.loads(metrics_path.read_text()).get("history", []) if metrics_path.is_file() else []
    write_report(report, history, out_dir)
    return report


def evaluate_wrapped(
    *, registry: Registry, model: str, test_file: Path, seed: int = 13, limit: int = 3000
) -> dict[str, Any]:
    """The test texts wrapped in e-mail threads (`email_wrap`): the primary head's accuracy on the plain
    texts, on the e-mails read raw (what a pipeline without the normaliser sees) and read as the product
    reads tickets (`shared.tickets.normalise`)."""
    from dataclasses import replace

    from services.trainer.email_wrap import wrap_examples
    from shared.tickets.normalise import model_text

    version = resolve_version(registry, model)
    manifest = registry.verify(version)
    config = manifest.get("training_config", {})
    columns = _head_columns(manifest)
    plain = load_examples(test_file, text_column=config.get("text_column", "text"), head_columns=columns)
    plain = random.Random(seed).sample(plain, min(limit, len(plain)))
    raw = wrap_examples(plain, seed=seed)
    read = [replace(e, text=model_text(e.text)) for e in raw]
    classifier = OnnxClassifier(registry.bundle_dir(version), version=version)
    head = classifier.heads[0].name
    accuracy = {
        name: evaluate_bundle(classifier, examples, latency=False)["heads"][head]["accuracy"]
        for name, examples in (("plain", plain), ("wrapped_raw", raw), ("wrapped_normalised", read))
    }
    return {"examples": len(plain), "seed": seed, "head": head, "accuracy": accuracy}


def _lexical_part(
    classifier: OnnxClassifier, examples: list[Any], model_eval: dict[str, Any]
) -> dict[str, Any]:
    return {"lexical": lexical_effect(classifier, examples, model_eval)} if classifier.lexical else {}


def lexical_effect(
    classifier: OnnxClassifier, examples: list[Any], model_eval: dict[str, Any]
) -> dict[str, Any]:
    """Per head with a lexical companion: its weight and the test accuracy (argmax) of the graph alone beside
    that of what serves (`model_eval`)."""
    import numpy as np

    texts = [e.text for e in examples]
    logits = [
        classifier.forward_windows(classifier.tokenize(texts[i : i + 64])).logits
        for i in range(0, len(texts), 64)
    ]
    effect = {}
    for head in classifier.heads:
        if head.name not in classifier.lexical or head.name not in model_eval["heads"]:
            continue
        graph = np.concatenate([part[head.name] for part in logits]).argmax(axis=1)
        rows = [(i, e.labels[head.name]) for i, e in enumerate(examples) if head.name in e.labels]
        alone = sum(head.labels[graph[i]] == gold for i, gold in rows) / max(len(rows), 1)
        effect[head.name] = {
            "weight": head.lexical_weight,
            "accuracy_graph_alone": alone,
            "accuracy": model_eval["heads"][head.name]["accuracy"],
        }
    return effect
