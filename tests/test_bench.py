"""The benchmark's parts that are not timing: derived bundles keep the model's predictions, the compute
limit's arithmetic, the inputs, and the tables (nothing here asserts a speed)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from helploop.bench.classification import measure_variant
from helploop.bench.classification_suite import PLAIN, _quality, _summary, derive_bundles
from helploop.bench.limits import encoder_flops_per_token
from helploop.bench.loadgen import WebhookSender, send_open_loop
from helploop.bench.profile import summarize
from helploop.bench.report import write_results
from helploop.bench.texts import demo_texts, long_emails
from services.trainer.derive import derived_child
from shared.registry import Registry
from shared.signing import SIGNATURE_HEADER, SignatureError, verify
from tests.learning_data import copy_active

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
    source = copy_active(trained_registry, tmp_path / "source")  # no children: fused and quantized here
    bundles = derive_bundles(source, tmp_path / "models")
    assert {bundles["fused"].name, bundles["int8"].name}.isdisjoint(trained_registry.versions())
    copied = derive_bundles(trained_registry, tmp_path / "copied")  # the fixture's children, verified
    parent = trained_registry.active_version()
    assert parent is not None
    child = derived_child(trained_registry, parent, "fused")
    assert child is not None
    assert [p.name for p in copied.values()] == [
        parent,
        child,
        derived_child(trained_registry, child, "int8"),
    ]
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


def test_fp16_bundle_for_gpus_keeps_float32_outputs_and_the_predictions(
    trained_registry: Registry, tmp_path: Path
) -> None:
    from services.trainer.quantize import quantize_bundle
    from shared.runtime.classifier import OnnxClassifier

    version = trained_registry.active_version()
    assert version is not None
    registry = Registry(tmp_path)
    shutil.copytree(trained_registry.bundle_dir(version), tmp_path / version)
    half = quantize_bundle(registry, version, mode="fp16")
    texts = demo_texts(24).texts
    fp32, fp16 = (OnnxClassifier(registry.bundle_dir(v), version=v).logits(texts) for v in (version, half))
    assert fp16.dtype == np.float32 and np.abs(fp32 - fp16).max() < 5e-3
    assert (fp32.argmax(axis=1) == fp16.argmax(axis=1)).all()


class _Helpdesk(BaseHTTPRequestHandler):
    """Accepts a webhook when its signature verifies, as the gateway does."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            verify(self.headers.get(SIGNATURE_HEADER), body, ["loadgen-secret"])
            status, answer = 202, {"id": json.loads(body)["event_id"]}
        except SignatureError:
            status, answer = 401, {"error": "invalid_signature"}
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


def test_open_loop_generator_sends_signed_webhooks_on_schedule() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Helpdesk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        started = time.perf_counter()
        sent = send_open_loop(WebhookSender(base, "loadgen-secret"), ["a", "b"], rate=40, duration_s=0.5)
        elapsed = time.perf_counter() - started
        forged = send_open_loop(WebhookSender(base, "wrong-secret"), ["a"], rate=10, duration_s=0.1)
    finally:
        server.shutdown()
    assert len(sent) == 20 and all(s.status == 202 and s.ticket_id for s in sent)
    assert len({s.ticket_id for s in sent}) == 20 and elapsed >= 0.45  # spread over the schedule
    assert [s.status for s in forged] == [401] and forged[0].ticket_id is None


def test_profile_stages_and_the_end_to_end_table(tmp_path: Path) -> None:
    raw = tmp_path / "worker.prof"
    raw.write_text(
        "run (worker.py:1);classify (tasks.py:2);classify_ticket (triage.py:3);Session.run (ort.py:4) 60\n"
        "run (worker.py:1);classify (tasks.py:2);triage_ticket (triage.py:3);route_with_result (r.py:5) 20\n"
        "run (worker.py:1);classify (tasks.py:2);route_ticket (routing.py:5) 10\n"
        "run (worker.py:1);asynloop (loops.py:6);Consumer._flush_events (consumer.py:7) 10\n"
    )
    shares = summarize(raw)
    assert shares == {
        "model: onnxruntime run": 60.0,
        "routing decision (database)": 30.0,
        "Celery: task events": 10.0,
    }
    p = {"p50": 20.0, "p95": 30.0, "p99": 40.0}
    step = {"rate": 10, "sent": 60, "errors": 0, "ack_ms": p, "triage_ms": p, "backlog_at_end": 1}
    step |= {"drain_s": 0.1, "cpu_ms_per_ticket": {"gateway": 10.0, "worker": 30.0}, "sustained": True}
    setup = {"steps": [step], "max_sustained_rate": 10, "queue_overhead_p50_ms": 4.0, "worker_rss_mb": 400.0}
    section = {"threads": 2, "gateway_workers": 2, "step_seconds": 6.0, "gateway_rss_mb": 200.0}
    section |= {"web_worker_rss_mb": 100.0, "in_process_ms": p, "setups": {"prefork": setup}}
    setup["profile"] = {"rate": 10, "percent_of_busy_samples": shares}
    gpu = {"device": "cuda", "size": 4096, "threads": 1, "fp32_gflops": 50000.0, "fp16_gflops": 700000.0}
    _, md = write_results(tmp_path / "out", {"limits": gpu, "endtoend": section})
    text = md.read_text()
    assert (
        "| prefork | 10 | 60 | 0 | 20.0 / 30.0 / 40.0 | 20.0 / 30.0 / 40.0 | 1 | 10.0 / 30.0 | yes |" in text
    )
    assert "highest rate sustained **10/s**" in text and "model: onnxruntime run 60.0 %" in text
    assert "fp16 GEMM, onnxruntime CUDA (cuBLAS) | 700000.0 GFLOP/s" in text


def test_bench_measures_the_other_base_model_beside_the_active_one(tmp_path: Path) -> None:
    """`make bench` shows both bases: the section beside the active classifier trains the other one."""
    from helploop.cli.bench import SECTIONS, other_base

    assert "classification_other_base" in SECTIONS
    for name, expected in (
        ("multilingual-e5-small", "minilm-l6"),
        ("minilm-l6", "multilingual-e5-small"),
        (None, "multilingual-e5-small"),  # a bundle from before the choice was MiniLM
    ):
        staging = tmp_path / f".staging-{expected}-{name}"
        staging.mkdir()
        registry = Registry(tmp_path / str(name))
        registry.root.mkdir()
        registry.publish(staging, version="v1", manifest={"base_model": {"name": name}})
        registry.activate("v1")
        assert other_base(registry) == expected
