"""Classification throughput, one variant per fresh process (clean RSS, no thread pools left spinning by
another framework): the plain way (transformers `pipeline` in PyTorch eager) and our runtime on the fp32,
fused and int8 bundles of the same model, at several batch sizes, on short and long tickets.

`python -m helploop.bench.classification SPEC.json` measures one variant and prints its JSON."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Runner = Callable[[list[str]], list[str]]  # texts in, primary labels out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    run: Runner, texts: list[str], batch: int, *, passes: int = 2, warm_up: bool = True
) -> dict[str, Any]:
    """Tickets/s (median over passes) and per-call latency percentiles, batches in arrival order."""
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    for chunk in batches if warm_up else ():  # onnxruntime plans memory once per new input shape
        run(chunk)
    rates, latencies = [], []
    for _ in range(passes):
        started = time.perf_counter()
        for chunk in batches:
            call_started = time.perf_counter()
            run(chunk)
            latencies.append((time.perf_counter() - call_started) * 1000)
        rates.append(len(texts) / (time.perf_counter() - started))
    return {
        "batch": batch,
        "tickets": len(texts),
        "tickets_per_s": round(statistics.median(rates), 1),
        "p50_ms": round(_percentile(latencies, 0.5), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
    }


def torch_runner(spec: dict[str, Any]) -> Runner:
    """The plain way: a transformers text-classification pipeline on the same encoder, PyTorch eager."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    torch.set_num_threads(spec["threads"])
    base = spec["base_dir"]
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=spec["num_labels"]).eval()
    device = 0 if spec.get("device") == "cuda" else -1
    tokenizer = AutoTokenizer.from_pretrained(base)
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=device)

    def run(texts: list[str]) -> list[str]:
        kwargs = {"batch_size": len(texts), "truncation": True, "max_length": spec["max_length"]}
        return [row["label"] for row in classify(texts, **kwargs)]

    return run


def onnx_runner(spec: dict[str, Any]) -> Runner:
    from shared.runtime.classifier import OnnxClassifier

    classifier = OnnxClassifier(Path(spec["bundle"]), version=spec["name"], intra_op_threads=spec["threads"])

    def run(texts: list[str]) -> list[str]:
        return [p.primary.label for p in classifier.predict(texts)]

    return run


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def measure_variant(spec: dict[str, Any]) -> dict[str, Any]:
    texts = json.loads(Path(spec["texts_file"]).read_text())
    started = time.perf_counter()
    run = torch_runner(spec) if spec["kind"] == "torch" else onnx_runner(spec)
    result: dict[str, Any] = {"name": spec["name"], "load_seconds": round(time.perf_counter() - started, 2)}
    timing = {"passes": spec.get("passes", 2), "warm_up": spec.get("warm_up", True)}
    result["runs"] = [
        {"set": name, **measure(run, texts[name]["texts"][: spec["tickets"][name]], batch, **timing)}
        for name in spec["sets"]
        for batch in spec["batches"]
    ]
    if spec.get("predict_file"):  # the labelled slice, for accuracy and agreement between variants
        predict = json.loads(Path(spec["predict_file"]).read_text())
        result["predictions"] = [
            label for i in range(0, len(predict), 32) for label in run(predict[i : i + 32])
        ]
    result["rss_mb"] = round(rss_mb(), 1)
    return result


if __name__ == "__main__":
    sys.stdout.write(json.dumps(measure_variant(json.loads(Path(sys.argv[1]).read_text()))) + "\n")
