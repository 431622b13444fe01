"""The benchmark's parts that are not timing: derived bundles keep the model's predictions, the compute
limit's arithmetic, the inputs, and the tables (nothing here asserts a speed)."""

from __future__ import annotations

import json
from pathlib import Path

from helploop.bench.classification import measure_variant
from helploop.bench.classification_suite import PLAIN, _quality, _summary, derive_bundles
from helploop.bench.limits import encoder_flops_per_token
from helploop.bench.report import write_results
from helploop.bench.texts import demo_texts, long_emails
from shared.registry import Registry

MINILM = {"hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536}


def test_encoder_flops_per_token_counts_projections_and_attention() -> None:
    assert encoder_flops_per_token(MINILM, 0) == 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)  # 21.2 MFLOP
    assert encoder_flops_per_token(MINILM, 100) - encoder_flops_per_token(MINILM, 0) == 2 * 6 * 2 * 100 * 384


def test_long_emails_are_multi_paragraph_and_keep_the_first_ticket_label() -> None:
    base = demo_texts(30)
    emails = long_emails(base, 10)
    assert len(emails.texts) == 10 and emails.labels == [base.labels[i] for i in range(10)]
    for text, first in zip(emails.texts, base.texts, strict=False):
        assert text.count("\n\n") >= 5 and first in text and len(text.split()) > 3 * len(first.split())


def test_fused_and_int8_bundles_keep_the_predictions(trained_registry: Registry, tmp_path: Path) -> None:
    bundles = derive_bundles(trained_registry, tmp_path / "models")
    fused = json.loads((bundles["fused"] / "manifest.json").read_text())
    assert fused["optimization"]["max_logit_difference"] <= 1e-3
    short = demo_texts(64)
    sets = {"short": short, "long": long_emails(short, 4)}
    (tmp_path / "texts.json").write_text(json.dumps({k: {"texts": v.texts} for k, v in sets.items()}))
    (tmp_path / "predict.json").write_text(json.dumps(short.texts))
    spec = {
        "kind": "onnx", "threads": 1, "texts_file": str(tmp_path / "texts.json"), "batches": [1, 8],
        "sets": ["short", "long"], "tickets": {"short": 16, "long": 4},
        "predict_file": str(tmp_path / "predict.json"),
    }  # fmt: skip
    results = {
        name: measure_variant({**spec, "name": name, "bundle": str(path)}) for name, path in bundles.items()
    }
    quality = _quality(results, short.labels)
    assert quality["fused"]["agreement_with_fp32"] == 1.0
    assert quality["int8"]["agreement_with_fp32"] >= 0.9, quality
    assert {(r["set"], r["batch"]) for r in results["int8"]["runs"]} == {
        ("short", 1), ("short", 8), ("long", 1), ("long", 8)
    }  # fmt: skip
    results[PLAIN] = {**results["fp32"], "predictions": []}
    limits = {"fp32_gflops": 100.0, "int8_gops": 200.0}
    summary = _summary(results, {"short": 20.0, "long": 200.0}, sets, short.labels, limits, MINILM)
    assert summary["speedup_vs_plain"]["fp32"]["short@1"] == 1.0
    limit = summary["limits"]["short"]
    assert abs(limit["int8_tickets_per_s"] - 2 * limit["fp32_tickets_per_s"]) <= 0.2
    section = {"threads": 1, "size": 64, "torch_fp32_gflops": 90.0, "onnxruntime_fp32_gflops": 100.0}
    _, md = write_results(tmp_path / "out", {"limits": {**section, **limits}, "classification": summary})
    text = md.read_text()
    assert "| int8 | short | 8 |" in text and "compute limit" in text and "agreement with fp32 1.0" in text
