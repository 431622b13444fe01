"""Benchmark results: one JSON document per run (machine, sections) and a Markdown table beside it."""

from __future__ import annotations

import json
import logging
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helploop.bench.console import console_table

log = logging.getLogger(__name__)


def machine() -> dict[str, Any]:
    import onnxruntime

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "platform": platform.platform(),
    }


def reclassify_table(result: dict[str, Any]) -> str:
    rows = [
        "| model | path | tasks | tickets | seconds | tickets/s | batched / one per ticket |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, variant in result["variants"].items():
        for name in ("one_task_per_ticket", "batched"):
            r = variant[name]
            path = "one task per ticket" if name != "batched" else f"batched chunks of {r['chunk_size']}"
            ratio = f"**{variant['ratio']}×**" if name == "batched" else ""
            rows.append(
                f"| {label} (`{variant['version']}`) | {path} | {r['tasks']} | {r['tickets']} "
                f"| {r['seconds']} | {r['tickets_per_s']} | {ratio} |"
            )
    rows.append("")
    rows.append(
        f"Worker: 1 process, {result['threads']} onnxruntime threads, RSS {result['worker_rss_mb']} MB after "
        "the run; the models one after the other on the same backlog."
    )
    return "\n".join(rows)


def _triple(p: dict[str, Any]) -> str:
    return " / ".join("–" if p[k] is None else str(p[k]) for k in ("p50", "p95", "p99"))


def _rate(rate: float | None) -> str:
    return "none" if rate is None else f"{rate:g}"


def endtoend_table(result: dict[str, Any]) -> str:
    rows = [
        "| worker | rate/s | sent | errors | ack ms p50/p95/p99 | received → triaged ms p50/p95/p99 "
        "| backlog when sending stopped | CPU ms per ticket: gateway / worker / load generator | sustained |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, setup in result["setups"].items():
        for step in setup["steps"]:
            rows.append(
                f"| {name} | {_rate(step['rate'])} | {step['sent']} | {step['errors']} "
                f"| {_triple(step['ack_ms'])} "
                f"| {_triple(step['triage_ms'])} | {step['backlog_at_end']} "
                f"| {' / '.join(str(v) for v in step['cpu_ms_per_ticket'].values())} "
                f"| {'yes' if step['sustained'] else 'no'} |"
            )
    rows.append("")
    reference = result["in_process_ms"]
    for name, setup in result["setups"].items():
        rows.append(
            f"- {name}: highest rate sustained **{_rate(setup['max_sustained_rate'])}/s**; queue path adds "
            f"**{setup['queue_overhead_p50_ms']} ms** p50 over in-process at the lowest rate; worker RSS "
            f"{setup['worker_rss_mb']} MB."
        )
        if setup.get("profile"):
            shares = ", ".join(f"{k} {v} %" for k, v in setup["profile"]["percent_of_busy_samples"].items())
            rows.append(
                f"  Where its time went at {_rate(setup['profile']['rate'])}/s (py-spy, busy samples): "
                f"{shares}."
            )
    rows += ["", *scale_out_table(result)]
    rows.append(
        "- In-process (the gateway's `ingest_ticket` then the worker's `classify_ticket` in one process, "
        "no HTTP, no broker), received → triaged: "
        f"{_triple(reference)} ms p50/p95/p99. Gateway: gunicorn, {result['gateway_workers']} sync workers, "
        f"{result['web_worker_rss_mb']} MB RSS per web worker; each step sends for "
        f"{result['step_seconds']} s; the load generator runs on the same cores. Sustained: no errors, "
        "acknowledgment p99 within 1 s, a backlog of at most half a second of arrivals when sending stops, "
        "drained within 30 s."
    )
    return "\n".join(rows)


def _processes(name: str) -> int | None:
    """The prefork set-ups' process count ("prefork, 1 process", "prefork, 2 processes")."""
    words = name.replace(",", "").split()
    if words[:1] != ["prefork"] or not words[1:2] or not words[1].isdigit() or len(words) > 3:
        return None  # not one of them: another model served ("prefork, 1 process, int8 classifier")
    return int(words[1])


def scale_out_table(result: dict[str, Any]) -> list[str]:
    """Prefork worker processes → highest rate sustained, and the capacity model from the measured CPU
    cost: a core spends `worker CPU ms` per ticket, so it can triage 86,400,000 / that many a day."""
    prefork = sorted(
        (n, setup) for name, setup in result["setups"].items() if (n := _processes(name)) is not None
    )
    if not prefork:
        return []
    rows = [
        "| worker processes | highest rate sustained /s | tickets/day at that rate | worker CPU ms per "
        "ticket (lowest rate) | tickets/day per core from that cost | worker RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for n, setup in prefork:
        rate = setup["max_sustained_rate"]
        cpu = setup["steps"][0]["cpu_ms_per_ticket"].get("worker") if setup["steps"] else None
        per_day = "–" if rate is None else f"{rate * 86_400:,.0f}"
        per_core = "–" if not cpu else f"{86_400_000 / cpu:,.0f}"
        rows.append(f"| {n} | {_rate(rate)} | {per_day} | {cpu} | {per_core} | {setup['worker_rss_mb']} |")
    rows.append(
        "- Scale-out: more processes help only while cores are free; here the gateway and the load generator "
        "share the same cores. GPU workers: not measured unless `bench/gpu.sh` ran on one."
    )
    return rows


def limits_table(result: dict[str, Any]) -> str:
    if result.get("device") == "cuda":
        return "\n".join(
            [
                "| kernel | throughput |",
                "|---|---|",
                f"| fp32 GEMM, onnxruntime CUDA (cuBLAS) | {result['fp32_gflops']} GFLOP/s |",
                f"| fp16 GEMM, onnxruntime CUDA (cuBLAS) | {result['fp16_gflops']} GFLOP/s |",
                "",
                f"Dense {result['size']}³ multiplies on the GPU (operands on the device), best of 3 rounds.",
            ]
        )
    return "\n".join(
        [
            "| kernel | threads | throughput |",
            "|---|---|---|",
            f"| fp32 GEMM, PyTorch | {result['threads']} | {result['torch_fp32_gflops']} GFLOP/s |",
            f"| fp32 GEMM, onnxruntime | {result['threads']} | {result['onnxruntime_fp32_gflops']} GFLOP/s |",
            f"| int8 GEMM, onnxruntime MatMulInteger | {result['threads']} | {result['int8_gops']} GOP/s |",
            f"| memory read (PyTorch sum over 512 MB) | {result['threads']} "
            f"| {result.get('memory_read_gb_s', '—')} GB/s |",
            "",
            f"Dense {result['size']}³ multiplies, the best of three rounds; the classifier's compute limit "
            "below divides these by its FLOPs per ticket, a decoder's weight-read limit is the bandwidth "
            "× batch over its weight bytes.",
        ]
    )


def classification_table(result: dict[str, Any]) -> str:
    rows = [f"Base model: {result['base_model']}.", ""] if "base_model" in result else []
    rows += [
        "| variant | tickets | batch | tickets/s | p50 ms | p99 ms | % of limit | × plain | RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    speedups = result["speedup_vs_plain"]
    for name, variant in result["variants"].items():
        for r in variant["runs"]:
            ratio = speedups.get(name, {}).get(f"{r['set']}@{r['batch']}", 1.0)
            cells = [name, r["set"], r["batch"], r["tickets_per_s"], r["p50_ms"], r["p99_ms"]]
            cells += [r["pct_of_limit"], ratio, variant["rss_mb"]]
            rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    rows.append("")
    low = "fp16" if "fp16" in result["variants"] else "int8"
    for name, limit in result["limits"].items():
        source = result["sets"][name]["source"]
        rows.append(
            f"- {name} ({source}, {limit['mean_tokens']} tokens on average): compute limit "
            f"{limit['fp32_tickets_per_s']} tickets/s in fp32, {limit[f'{low}_tickets_per_s']} in {low}."
        )
    quality = result["quality"]
    parts = [
        f"{k}: agreement with fp32 {v['agreement_with_fp32']}"
        + (f", accuracy {v['accuracy']}" if "accuracy" in v else "")
        for k, v in quality.items()
        if isinstance(v, dict)
    ]
    rows.append(f"- Predictions on the labelled short set: {'; '.join(parts)}.")
    if f"{low}_accuracy_delta_pt" in quality:
        rows.append(f"- {low} accuracy change vs fp32: {quality[f'{low}_accuracy_delta_pt']} pt.")
    return "\n".join(rows)


def generation_table(result: dict[str, Any]) -> str:
    rows = [
        "| runtime | batch | tokens/s | after the first token | % of the weight-read limit | × plain "
        "| × fp32 | first token ms | RSS MB | drafts vs fp32's: chrF / ROUGE-L |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runtime in result["runtimes"].items():
        agreement = runtime.get("vs_fp32")
        versus = f"{agreement['chrf']} / {agreement['rouge_l']}" if agreement else "—"
        for r in runtime["runs"]:
            cells = [name, r["batch"], r["tokens_per_s"], r.get("decode_tokens_per_s", "—")]
            cells += [r.get("pct_of_limit", "—"), r["x_plain"], r.get("x_fp32", "—"), r["first_token_ms"]]
            rows.append("| " + " | ".join(str(c) for c in [*cells, runtime["rss_mb"], versus]) + " |")
    rows += [
        "",
        f"Model {result['model']}; greedy, repetition penalty 1.1, EOS ignored (same work for all). "
        "tokens/s counts the whole call (prefill included), the next column only the steps after the first "
        "token. Drafts vs fp32's: the prompts one at a time, greedy with EOS, as drafting serves them. "
        "The weight-read limit: every step reads all the decoder's weights once for the batch, so it "
        f"decodes at most {result.get('memory_read_gb_s') or '—'} GB/s (measured above) × batch / its "
        "weight bytes tokens/s.",
    ]
    return "\n".join(rows)


def memory_table(result: dict[str, Any]) -> str:
    variants = result["variants"]
    steps = list(next(iter(variants.values()))["steps_rss_mb"])
    rows = ["| RSS MB | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for step in steps:
        rows.append(
            f"| {step} | " + " | ".join(str(v["steps_rss_mb"][step]) for v in variants.values()) + " |"
        )
    verdicts = " | ".join(
        ("within" if v["rss_mb"] < result["budget_mb"] else "over") + f" ({v['rss_mb']})"
        for v in variants.values()
    )
    rows += [f"| **{result['budget_mb']} MB budget** | {verdicts} |", ""]
    rows.append(f"Classifier {result['classifier']}, knowledge-base encoder {result['encoder']}.")
    return "\n".join(rows)


TABLES = {
    "limits": ("The machine's limit (measured in this run)", limits_table),
    "classification": (
        "Classification: the plain way vs our runtime (each in its own process)",
        classification_table,
    ),
    "classification_other_base": (
        "Classification on the other base model (a demo classifier trained for the run)",
        classification_table,
    ),
    "generation": ("Reply generation (each runtime in its own process)", generation_table),
    "endtoend": (
        "End to end: signed webhooks at fixed rates (gunicorn, Redis, a real worker)",
        endtoend_table,
    ),
    "reclassify": ("Reclassification throughput (real worker, Redis, SQLite)", reclassify_table),
    "memory": ("Memory: one worker holding classifier, knowledge-base encoder and generator", memory_table),
    "console": ("Console pages over a large inbox (server time, in-process)", console_table),
}


def section_markdown(name: str, result: Any) -> list[str]:
    """A section's heading and table; a section that failed says so (its error), the others still render."""
    title, table = TABLES[name]
    if isinstance(result, dict) and "error" in result:
        return [f"## {title}", "", f"**This section failed**: `{result['error']}` (see the run's log).", ""]
    try:
        return [f"## {title}", "", table(result), ""]
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:  # the JSON beside it has the numbers
        log.exception("bench table %s could not be rendered", name)
        return [f"## {title}", "", f"**The table could not be rendered**: `{type(exc).__name__}: {exc}`.", ""]


def write_results(
    out_dir: Path,
    sections: dict[str, Any],
    *,
    seconds: dict[str, float] | None = None,
    started: datetime | None = None,
) -> tuple[Path, Path]:
    """Write the run's JSON and Markdown (and `latest.*`); called again after each section with the same
    `started`, it rewrites the same files, so a crash later in the run keeps what was measured."""
    out_dir.mkdir(parents=True, exist_ok=True)
    now = started or datetime.now(UTC)
    document = {
        "created_at": now.isoformat(),
        "machine": machine(),
        "section_seconds": seconds or {},
        "sections": sections,
    }
    stamp = now.strftime("%Y%m%d-%H%M%S")
    json_path, md_path = out_dir / f"bench-{stamp}.json", out_dir / f"bench-{stamp}.md"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        f"# helploop benchmark, {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: `{json.dumps(document['machine'])}`",
        "",
        f"Seconds per section: `{json.dumps(document['section_seconds'])}`",
        "",
    ]
    for name, result in sections.items():
        lines += section_markdown(name, result)
    md_path.write_text("\n".join(lines))
    for path in (json_path, md_path):
        (out_dir / f"latest{path.suffix}").write_text(path.read_text())
    return json_path, md_path
