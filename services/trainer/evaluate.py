"""`helploop evaluate`: a bundle (through the serving runtime) on a labelled test file → metrics."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import numpy as np

from services.trainer.data import Example
from shared.runtime.classifier import OUT_OF_SCOPE, HeadSpec, OnnxClassifier, predict_head
from shared.runtime.scoring import expected_calibration_error, reliability_bins, softmax

log = logging.getLogger(__name__)
UNKNOWN_LANGUAGE = "unknown"


def per_class(gold: list[str], pred: list[str], labels: list[str]) -> dict[str, dict[str, float]]:
    table = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return table


def top_confusions(gold: list[str], pred: list[str], n: int = 20) -> list[dict[str, Any]]:
    pairs = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    return [{"gold": g, "predicted": p, "count": c} for (g, p), c in pairs.most_common(n)]


def _oos_metrics(gold: list[str], pred: list[str], oos_gold: set[str]) -> dict[str, float]:
    """CLINC150's metrics: accuracy over in-scope queries (an OOS answer is wrong), OOS recall/precision."""
    is_oos = np.array([g in oos_gold for g in gold])
    said_oos = np.array([p == OUT_OF_SCOPE for p in pred])
    correct = np.array([g == p for g, p in zip(gold, pred, strict=True)])
    in_scope_accuracy = float(correct[~is_oos].mean()) if (~is_oos).any() else 0.0
    recall = float(said_oos[is_oos].mean()) if is_oos.any() else 0.0
    precision = float(is_oos[said_oos].mean()) if said_oos.any() else 0.0
    return {
        "in_scope_accuracy": in_scope_accuracy,
        "oos_recall": recall,
        "oos_precision": precision,
        "oos_support": int(is_oos.sum()),
    }


def _accuracy_and_f1(gold: list[str], pred: list[str]) -> dict[str, float]:
    if not gold:
        return {"accuracy": 0.0, "macro_f1": 0.0}
    table = per_class(gold, pred, sorted(set(gold) | set(pred)))
    return {
        "accuracy": float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])),
        "macro_f1": float(np.mean([row["f1"] for row in table.values() if row["support"]])),
    }


def example_languages(examples: list[Example]) -> list[str]:
    """The product's language guess per text (`unknown` where it cannot tell: too short, too unsure)."""
    from shared.runtime.language import detect_language

    return [detect_language(e.text).language or UNKNOWN_LANGUAGE for e in examples]


def score_predictions(gold: list[str], pred: list[str], languages: list[str] | None = None) -> dict[str, Any]:
    """Accuracy and macro-F1 over all examples, and per language when `languages` is given."""
    result: dict[str, Any] = {"examples": len(gold), **_accuracy_and_f1(gold, pred)}
    if languages is not None:
        result["by_language"] = {
            language: {
                "examples": len(rows),
                **_accuracy_and_f1([gold[i] for i in rows], [pred[i] for i in rows]),
            }
            for language in sorted(set(languages))
            if (rows := [i for i, lang in enumerate(languages) if lang == language])
        }
    return result


def _calibration(spec: HeadSpec, logits: np.ndarray, gold: list[str]) -> dict[str, Any]:
    """ECE (15 bins) with and without the head's temperature, over examples whose label the head knows."""
    index = {label: i for i, label in enumerate(spec.labels)}
    if spec.oos_label:
        index[OUT_OF_SCOPE] = index[spec.oos_label]
    known = [i for i, label in enumerate(gold) if label in index]
    if not known:
        return {}
    ids = np.array([index[gold[i]] for i in known])
    calibrated, raw = softmax(logits[known], spec.temperature), softmax(logits[known])
    return {
        "ece": expected_calibration_error(calibrated, ids),
        "ece_uncalibrated": expected_calibration_error(raw, ids),
        "reliability": reliability_bins(calibrated, ids),
        "reliability_uncalibrated": reliability_bins(raw, ids),
    }


def head_report(
    spec: HeadSpec,
    logits: np.ndarray,
    examples: list[Example],
    scores: np.ndarray | None = None,
    languages: list[str] | None = None,
) -> dict[str, Any]:
    """Accuracy and macro-F1 of the classifier alone (argmax; a trained OOS class counts as out of scope;
    also per language when `languages` is given) and of what the product returns (with the rejection
    rule), per-class P/R/F1, ECE, confusions, OOS."""
    rows = [i for i, e in enumerate(examples) if spec.name in e.labels]
    oos_names = {spec.oos_label, OUT_OF_SCOPE} - {None}
    gold = [
        OUT_OF_SCOPE if examples[i].labels[spec.name] in oos_names else examples[i].labels[spec.name]
        for i in rows
    ]
    head_logits = logits[rows]
    argmax = [spec.labels[i] for i in head_logits.argmax(axis=1)]
    argmax = [OUT_OF_SCOPE if p in oos_names else p for p in argmax]
    head_scores = scores[rows] if scores is not None else None
    final = [p.label for p in predict_head(spec, head_logits, top_k=1, scores=head_scores)]
    report: dict[str, Any] = {
        **score_predictions(gold, argmax, [languages[i] for i in rows] if languages else None),
        "with_rejection": {
            **_accuracy_and_f1(gold, final),
            "rejected_share": float(np.mean([p == OUT_OF_SCOPE for p in final])),
        },
        "per_class": per_class(gold, final, sorted(set(gold) | set(final))),
        "top_confusions": top_confusions(gold, final),
        "temperature": spec.temperature,
        "rejection": {"method": spec.reject_method, "threshold": spec.reject_threshold},
        **_calibration(spec, head_logits, gold),
    }
    if OUT_OF_SCOPE in gold:
        report["oos"] = _oos_metrics(gold, final, {OUT_OF_SCOPE})
        report["oos_without_threshold"] = _oos_metrics(gold, argmax, {OUT_OF_SCOPE})
    return report


def measure_latency(classifier: OnnxClassifier, texts: list[str], sample: int = 200) -> dict[str, float]:
    """Per-ticket latency at batch 1 (what a worker sees per task) on a sample of the test texts."""
    timings = []
    for text in texts[:sample]:
        started = time.perf_counter()
        classifier.predict([text])
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "batch1_p50_ms": float(np.percentile(timings, 50)),
        "batch1_p95_ms": float(np.percentile(timings, 95)),
        "samples": len(timings),
    }


def evaluate_bundle(
    classifier: OnnxClassifier,
    examples: list[Example],
    *,
    batch_size: int = 64,
    latency: bool = True,
    languages: list[str] | None = None,
) -> dict[str, Any]:
    """Metrics per head; `latency`: also time batch-1 predictions on a sample (reports, not the gate);
    `languages` (one per example, see `example_languages`): accuracy and macro-F1 also per language."""
    texts = [e.text for e in examples]
    started = time.perf_counter()
    chunks = [classifier.forward(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    seconds = time.perf_counter() - started
    logits = {h.name: np.concatenate([c.logits[h.name] for c in chunks]) for h in classifier.heads}
    per_chunk = [classifier.reject_scores(c) for c in chunks]
    scores = {name: np.concatenate([c[name] for c in per_chunk]) for name in classifier.gaussians}
    heads = {
        h.name: head_report(h, logits[h.name], examples, scores.get(h.name), languages)
        for h in classifier.heads
        if any(h.name in e.labels for e in examples)
    }
    timing = measure_latency(classifier, texts) if latency else {}
    timing["batched_ms_per_ticket"] = seconds * 1000 / max(len(texts), 1)
    return {"version": classifier.version, "examples": len(examples), "heads": heads, "latency": timing}
