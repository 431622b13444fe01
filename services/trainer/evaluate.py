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


def head_report(spec: HeadSpec, logits: np.ndarray, examples: list[Example]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1, ECE before/after temperature, top confusions, OOS metrics."""
    rows = [i for i, e in enumerate(examples) if spec.name in e.labels]
    oos_gold = {spec.oos_label, OUT_OF_SCOPE} - {None}
    gold = [
        OUT_OF_SCOPE if examples[i].labels[spec.name] in oos_gold else examples[i].labels[spec.name]
        for i in rows
    ]
    head_logits = logits[rows]
    pred = [p.label for p in predict_head(spec, head_logits, top_k=1)]
    raw_pred = [spec.labels[i] for i in head_logits.argmax(axis=1)]
    classes = sorted(set(gold) | set(pred))
    table = per_class(gold, pred, classes)
    report: dict[str, Any] = {
        "examples": len(rows),
        "accuracy": float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])),
        "accuracy_without_rejection": float(
            np.mean(
                [g == (OUT_OF_SCOPE if p in oos_gold else p) for g, p in zip(gold, raw_pred, strict=True)]
            )
        ),
        "macro_f1": float(np.mean([row["f1"] for label, row in table.items() if row["support"]])),
        "per_class": table,
        "top_confusions": top_confusions(gold, pred),
        "temperature": spec.temperature,
        "rejection": {"method": spec.reject_method, "threshold": spec.reject_threshold},
    }
    known = [i for i, label in enumerate(gold) if label in spec.labels]
    if known:
        ids = np.array([spec.labels.index(gold[i]) for i in known])
        report["ece_uncalibrated"] = expected_calibration_error(softmax(head_logits[known]), ids)
        report["ece"] = expected_calibration_error(softmax(head_logits[known], spec.temperature), ids)
        report["reliability"] = reliability_bins(softmax(head_logits[known], spec.temperature), ids)
        report["reliability_uncalibrated"] = reliability_bins(softmax(head_logits[known]), ids)
    if any(g == OUT_OF_SCOPE for g in gold) or spec.oos_label or spec.reject_method:
        report["oos"] = _oos_metrics(gold, pred, {OUT_OF_SCOPE})
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
    classifier: OnnxClassifier, examples: list[Example], *, batch_size: int = 64
) -> dict[str, Any]:
    texts = [e.text for e in examples]
    started = time.perf_counter()
    chunks = [classifier.head_logits(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    seconds = time.perf_counter() - started
    logits = {h.name: np.concatenate([c[h.name] for c in chunks]) for h in classifier.heads}
    heads = {
        h.name: head_report(h, logits[h.name], examples)
        for h in classifier.heads
        if any(h.name in e.labels for e in examples)
    }
    latency = measure_latency(classifier, texts)
    latency["batched_ms_per_ticket"] = seconds * 1000 / max(len(texts), 1)
    return {"version": classifier.version, "examples": len(examples), "heads": heads, "latency": latency}
