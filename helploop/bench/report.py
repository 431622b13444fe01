"""Benchmark results: one JSON document per run (machine, sections) and a Markdown table beside it."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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
        "| path | tasks | tickets | seconds | tickets/s |",
        "|---|---|---|---|---|",
    ]
    for name in ("one_task_per_ticket", "batched"):
        r = result[name]
        label = "one task per ticket" if name != "batched" else f"batched chunks of {r['chunk_size']}"
        rows.append(f"| {label} | {r['tasks']} | {r['tickets']} | {r['seconds']} | {r['tickets_per_s']} |")
    rows.append("")
    rows.append(
        f"Batched / one-per-ticket: **{result['ratio']}×** (worker: 1 process, {result['threads']} "
        f"onnxruntime threads, RSS {result['worker_rss_mb']} MB after the run)."
    )
    return "\n".join(rows)


TABLES = {"reclassify": ("Reclassification throughput (real worker, Redis, SQLite)", reclassify_table)}


def write_results(out_dir: Path, sections: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    document = {"created_at": now.isoformat(), "machine": machine(), "sections": sections}
    stamp = now.strftime("%Y%m%d-%H%M%S")
    json_path, md_path = out_dir / f"bench-{stamp}.json", out_dir / f"bench-{stamp}.md"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        f"# helploop benchmark, {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: `{json.dumps(document['machine'])}`",
        "",
    ]
    for name, result in sections.items():
        title, table = TABLES[name]
        lines += [f"## {title}", "", table(result), ""]
    md_path.write_text("\n".join(lines))
    for path in (json_path, md_path):
        (out_dir / f"latest{path.suffix}").write_text(path.read_text())
    return json_path, md_path
