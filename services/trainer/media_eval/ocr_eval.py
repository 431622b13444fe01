"""Measure OCR engines on the generated screenshot set: character error rate per language × condition,
seconds per image and memory, into `report.json` and `report.md`.

    python -m services.trainer.media_eval.ocr_eval --out var/reports/ocr [--engines a,b] [--limit N]
        [--threads 2]

An engine is a name from `shared.media.ocr` with optional tuning keywords, e.g.
`rapidocr-ppocrv4:use_cls=false:unclip_ratio=2.0` or `tesseract-5:psm=6`. Each engine runs in its own
process, so its resident memory (after loading, and the peak over the run) is its own.

CER = Levenshtein distance / reference length, summed over the images of a cell (micro average), after
NFKC (full-width ASCII and ￥ become half-width) and whitespace normalisation: English keeps single spaces
between words, Chinese ignores every space (the engines differ in putting spaces around embedded codes).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import re
import resource
import statistics
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

from services.trainer.media_eval.ocr_set import CONDITIONS, DEFAULT_PER_CELL, DEFAULT_SEED, LANGUAGES, OcrItem

log = logging.getLogger(__name__)
TARGETS = {"clean": 0.03, "degraded": 0.10}


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions, each 1) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalise(text: str, language: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if language == "zh":
        return re.sub(r"\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def cer(hypothesis: str, reference: str, language: str) -> tuple[int, int]:
    """(edits, reference length) after normalising both; CER is their ratio."""
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    return levenshtein(ref, hyp), len(ref)


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """ "name:key=value:…" → (name, options); values are read as JSON where they parse (numbers, booleans)."""
    name, *pairs = spec.split(":")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return name, options


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_engine(spec: str, items: list[OcrItem], threads: int) -> dict[str, Any]:
    """Load one engine and read every item (in this process); the raw results."""
    from tqdm import tqdm

    from shared.media.ocr import load_ocr_engine

    name, options = parse_spec(spec)
    started = time.perf_counter()
    engine = load_ocr_engine(name, threads=threads, **options)
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mb()
    rows = []
    for item in tqdm(items, desc=spec, unit="img", file=sys.stderr, dynamic_ncols=True):
        began = time.perf_counter()
        try:
            text, error = engine.extract(item.image).text, None
        except Exception as exc:  # an engine failure is a result: counted as empty text
            text, error = "", f"{type(exc).__name__}: {exc}"[:300]
        seconds = time.perf_counter() - began
        edits, length = cer(text, item.text, item.language)
        rows.append(
            {
                "id": item.item_id,
                "language": item.language,
                "condition": item.condition,
                "kind": item.kind,
                "seconds": round(seconds, 4),
                "edits": edits,
                "length": length,
                "text": text,
                "error": error,
            }
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "spec": spec,
        "load_s": round(load_s, 2),
        "rss_after_load_mb": round(rss_loaded, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_child_rss_mb": round(children, 1),
        "rows": rows,
    }


def _child(spec: str, items: list[OcrItem], threads: int, conn: Any) -> None:
    try:
        conn.send(run_engine(spec, items, threads))
    except Exception as exc:
        conn.send({"spec": spec, "failed": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def run_isolated(spec: str, items: list[OcrItem], threads: int) -> dict[str, Any]:
    """`run_engine` in a fresh process (spawned: nothing loaded before), so memory numbers are its own."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(spec, items, threads, child))
    process.start()
    child.close()
    result = parent.recv()
    process.join()
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """CER per language × condition (micro), speed and memory of one engine's raw results."""
    rows = result["rows"]
    table: dict[str, dict[str, float | None]] = {}
    for language in LANGUAGES:
        table[language] = {}
        for condition in CONDITIONS:
            cell = [r for r in rows if r["language"] == language and r["condition"] == condition]
            length = sum(r["length"] for r in cell)
            table[language][condition] = round(sum(r["edits"] for r in cell) / length, 4) if length else None
    seconds = [r["seconds"] for r in rows]
    meets = all(v is not None and v <= TARGETS[c] for lang in table.values() for c, v in lang.items())
    return {
        "spec": result["spec"],
        "cer": table,
        "meets_targets": meets,
        "images": len(rows),
        "errors": sum(1 for r in rows if r["error"]),
        "load_s": result["load_s"],
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds_p90": round(percentile(seconds, 0.9), 3),
        "seconds_total": round(sum(seconds), 1),
        "rss_after_load_mb": result["rss_after_load_mb"],
        "peak_rss_mb": result["peak_rss_mb"],
        "peak_child_rss_mb": result["peak_child_rss_mb"],
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def markdown(report: dict[str, Any]) -> str:
    cells = [(lang, cond) for lang in LANGUAGES for cond in CONDITIONS]
    head = [
        "engine",
        *(f"CER {lang} {cond}" for lang, cond in cells),
        "meets targets",
        "s/img median",
        "s/img p90",
        "RSS after load MB",
        "peak RSS MB",
        "errors",
    ]
    lines = [
        f"# OCR evaluation ({report['set']['images']} generated images, seed {report['set']['seed']})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for s in report["engines"]:
        peak = f"{s['peak_rss_mb']:.0f}" + (
            f" (+{s['peak_child_rss_mb']:.0f} child)" if s["peak_child_rss_mb"] else ""
        )
        values = [
            f"`{s['spec']}`",
            *(_pct(s["cer"][lang][cond]) for lang, cond in cells),
            "yes" if s["meets_targets"] else "no",
            f"{s['seconds_median']:.2f}",
            f"{s['seconds_p90']:.2f}",
            f"{s['rss_after_load_mb']:.0f}",
            peak,
            str(s["errors"]),
        ]
        lines.append("| " + " | ".join(values) + " |")
    lines += [
        "",
        f"Targets: CER ≤ {100 * TARGETS['clean']:.0f} % clean, ≤ {100 * TARGETS['degraded']:.0f} % "
        "degraded, per language. CER: micro average; NFKC; English whitespace collapsed, Chinese spaces "
        "ignored.",
        "",
        f"Machine: {report['machine']['note']}",
        "",
    ]
    for failed in report.get("failed", []):
        lines.append(f"- `{failed['spec']}` failed: {failed['failed']}")
    return "\n".join(lines) + "\n"


def machine_note(threads: int, load: tuple[float, float]) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "threads": threads,
        "loadavg_start": load[0],
        "loadavg_end": load[1],
        "note": f"{os.cpu_count()} CPUs, {threads} threads per engine; 1-min load average "
        f"{load[0]:.2f} at start, {load[1]:.2f} at end (other work may have shared the machine: the "
        "timings are indicative, compare engines measured in the same run).",
    }


def evaluate(specs: list[str], items: list[OcrItem], threads: int, out: Path, seed: int) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    summaries, failed, raw = [], [], {}
    for spec in specs:
        result = run_isolated(spec, items, threads)
        if "failed" in result:
            log.error("engine %s failed: %s", spec, result["failed"])
            failed.append(result)
            continue
        summaries.append(summarise(result))
        raw[spec] = result["rows"]
    report = {
        "set": {"seed": seed, "images": len(items)},
        "engines": summaries,
        "failed": failed,
        "machine": machine_note(threads, (load_start, os.getloadavg()[0])),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({**report, "items": raw}, ensure_ascii=False, indent=1))
    (out / "report.md").write_text(markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    from shared.media.ocr import available_ocr_engines

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("var/reports/ocr"))
    parser.add_argument("--engines", default="", help="comma-separated specs (default: every installed one)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images (balanced)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--per-cell", type=int, default=DEFAULT_PER_CELL, help="images per language × condition"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    specs = [s for s in args.engines.split(",") if s] or available_ocr_engines()
    items = _generate(args.seed, args.per_cell, args.limit)
    report = evaluate(specs, items, args.threads, args.out, args.seed)
    sys.stdout.write(markdown(report))
    log.info("wrote %s and %s in %.0f s", args.out / "report.json", args.out / "report.md", report["wall_s"])
    return 1 if report["failed"] else 0


def _generate(seed: int, per_cell: int, limit: int | None) -> list[OcrItem]:
    from tqdm import tqdm

    from services.trainer.media_eval.ocr_set import ocr_set

    total = min(limit, 4 * per_cell) if limit else 4 * per_cell
    with tqdm(total=total, desc="generating", unit="img", file=sys.stderr) as bar:
        return ocr_set(seed, per_cell, limit=limit, progress=bar.update)


if __name__ == "__main__":
    raise SystemExit(main())
