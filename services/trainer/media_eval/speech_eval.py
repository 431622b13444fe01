"""Speech-to-text eval on the generated voicemail set (`speech_set.py`): English WER, Mandarin CER, language
detection, real-time factor (processing s / audio s), load time and memory, for each recognizer variant.

    python -m services.trainer.media_eval.speech_eval --out var/reports/speech [--limit N] [--threads 2]
        [--variants int8-b1 int8-b5 ...] [--cache-dir var/cache]

Each variant runs in a fresh process (spawned), so its load time and RSS are its own. English is compared
after lower-casing, dropping punctuation, number words to digits and runs of digits joined (an order number
"4 8 2 7" read out and written "4827" or "four eight two seven" counts the same); Mandarin after Simplified
script, dropping punctuation and spaces, and Chinese numerals to digits. Writes report.json and report.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from services.trainer.media_eval.speech_set import SpeechItem, espeak_available, speech_set

log = logging.getLogger(__name__)

# name -> load_speech_engine keywords, plus "hint": the language given to extract (the oracle: the ticket's)
VARIANTS: dict[str, dict[str, Any]] = {
    "int8-b1": {"compute_type": "int8", "beam_size": 1},
    "int8-b1-noprompt": {"compute_type": "int8", "beam_size": 1, "prompts": {}},
    "int8-b1-noguard": {"compute_type": "int8", "beam_size": 1, "echo_guard": False},
    "int8-b1-hint": {"compute_type": "int8", "beam_size": 1, "hint": True},
    "int8-b1-vad": {"compute_type": "int8", "beam_size": 1, "vad_filter": True},
    "int8-b5": {"compute_type": "int8", "beam_size": 5},
    "int8-b5-noprompt": {"compute_type": "int8", "beam_size": 5, "prompts": {}},
    "float32-b1": {"compute_type": "float32", "beam_size": 1},
    "float32-b5": {"compute_type": "float32", "beam_size": 5},
    "float32-b5-noprompt": {"compute_type": "float32", "beam_size": 5, "prompts": {}},
}
DEFAULT_VARIANTS = ("int8-b5", "int8-b1", "int8-b1-noprompt", "float32-b5", "int8-b1-vad", "int8-b1-hint")

# ---- text normalisation and error rates ------------------------------------------------------------------

NUMBER_WORDS = (  # noqa: SIM905 (one string reads better than 28 items)
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety"
).split()
UNITS = {word: i for i, word in enumerate(NUMBER_WORDS[:20])}
TENS = {word: 10 * i for i, word in enumerate(NUMBER_WORDS[20:], 2)}
EN_SAME = {"e-mail": "email", "login": "log in", "into": "in to", "okay": "ok", "mr": "mister"}
ZH_DIGITS = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "两": "2", "幺": "1"}
ZH_UNITS = {"十": 10, "百": 100, "千": 1000}


def _join_number(words: list[str]) -> list[str]:
    """Number words to digits ("forty five" -> "45", "one hundred and twenty" -> "120")."""
    out: list[str] = []
    value: int | None = None
    last = ""
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        if word == "and" and last == "scale" and (following in UNITS or following in TENS):
            continue
        if word in ("hundred", "thousand") and value is not None:
            value, last = value * (100 if word == "hundred" else 1000), "scale"
            continue
        kind = "tens" if word in TENS else "unit" if word in UNITS and UNITS[word] < 10 else "teen"
        if word in UNITS or word in TENS:
            number = TENS.get(word, UNITS.get(word, 0))
            fits = last == "scale" or (last == "tens" and kind == "unit" and number > 0)
            if value is not None and not fits:
                out.append(str(value))
                value = None
            value, last = (value or 0) + number, kind
            continue
        if value is not None:
            out.append(str(value))
            value, last = None, ""
        out.append(word)
    return [*out, str(value)] if value is not None else out


def normalise_en(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    text = re.sub(r"\$(\d+)(?:\.(\d\d))?", lambda m: f"{m[1]} dollars", text)
    text = re.sub(r"(?<=\d)[,.](?=\d)", " ", text)  # "4.5.8", "4,580": digits read out, joined below
    for variant, same in EN_SAME.items():
        text = re.sub(rf"\b{re.escape(variant)}\b", same, text)
    words: list[str] = []
    for clause in re.split(r"[.;:!?]", text):  # digits join within a sentence, across commas and hyphens
        joined: list[str] = []
        for word in _join_number(re.sub(r"[^a-z0-9' ]+", " ", clause.replace("'", "")).split()):
            if word.isdigit() and joined and joined[-1].isdigit():
                joined[-1] += word  # an order number is one number however it was grouped
            else:
                joined.append(word)
        words += joined
    return words


def _zh_number(run: str) -> str:
    """A run of Chinese numerals to digits: digit by digit ("四八二") or as a value ("一百二十" -> 120)."""
    if not any(c in ZH_UNITS for c in run) or re.search(r"[零〇一二两三四五六七八九幺]{2}", run):
        return "".join(ZH_DIGITS.get(c, c) for c in run)
    total = digit = 0
    for c in run:
        if c in ZH_UNITS:
            total += (digit or 1) * ZH_UNITS[c]
            digit = 0
        elif c == "万":
            total, digit = (total + digit) * 10_000, 0
        else:
            digit = int(ZH_DIGITS[c])
    return str(total + digit)


def normalise_zh(text: str) -> str:
    from shared.media.speech import to_simplified

    text = to_simplified(text).lower()
    text = re.sub(r"[零〇一二两三四五六七八九幺十百千万]+", lambda m: _zh_number(m[0]), text)
    return "".join(c for c in text if c.isalnum())


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over tokens (words or characters)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def errors(language: str, reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits, reference length): words for English, characters for Mandarin."""
    if language == "zh":
        ref, hyp = normalise_zh(reference), normalise_zh(hypothesis)
        return edit_distance(list(ref), list(hyp)), len(ref)
    ref_words, hyp_words = normalise_en(reference), normalise_en(hypothesis)
    return edit_distance(ref_words, hyp_words), len(ref_words)


# ---- running a variant (in its own process) --------------------------------------------------------------


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_variant(name: str, items: list[SpeechItem], threads: int, cache_dir: Path) -> dict[str, Any]:
    """Load the recognizer, transcribe every item; per-item results plus load time and memory."""
    from tqdm import tqdm

    from shared.media.speech import load_speech_engine

    options = dict(VARIANTS[name])
    hint = options.pop("hint", False)
    rss_start = _rss_mb()
    started = time.perf_counter()
    engine = load_speech_engine(cache_dir=cache_dir, threads=threads, **options)
    load_s, rss_loaded = time.perf_counter() - started, _rss_mb()
    rows = []
    for item in tqdm(items, desc=name, file=sys.stderr, unit="clip"):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = engine.extract(item.wav, language=item.language if hint else None)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        edits, length = errors(item.language, item.text, result.text)
        rows.append(
            {
                "id": item.id,
                "language": item.language,
                "condition": item.condition,
                "reference": item.text,
                "hypothesis": result.text,
                "detected": result.language,
                "confidence": result.confidence,
                "duration_s": item.duration_s,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "edits": edits,
                "length": length,
            }
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memory = {"rss_start_mb": rss_start, "rss_loaded_mb": rss_loaded, "rss_peak_mb": peak}
    return {"name": name, "options": VARIANTS[name], "load_s": load_s, **memory, "items": rows}


def _rate(rows: list[dict[str, Any]]) -> float | None:
    length = sum(r["length"] for r in rows)
    return sum(r["edits"] for r in rows) / length if length else None


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    rows = result["items"]
    rtf = sorted(r["seconds"] / r["duration_s"] for r in rows)
    by_language = {lang: [r for r in rows if r["language"] == lang] for lang in ("en", "zh")}
    conditions = sorted({r["condition"] for r in rows})
    summary = {
        "en_wer": _rate(by_language["en"]),
        "zh_cer": _rate(by_language["zh"]),
        "language_accuracy": sum(r["detected"] == r["language"] for r in rows) / len(rows),
        "rtf_median": statistics.median(rtf),
        "rtf_p90": rtf[min(len(rtf) - 1, int(0.9 * len(rtf)))],
        "cpu_rtf_median": statistics.median(r["cpu_seconds"] / r["duration_s"] for r in rows),
        "audio_s": sum(r["duration_s"] for r in rows),
        "processing_s": sum(r["seconds"] for r in rows),
    }
    for lang, metric in (("en", "wer"), ("zh", "cer")):
        for condition in conditions:
            subset = [r for r in by_language[lang] if r["condition"] == condition]
            summary[f"{lang}_{metric}_{condition}"] = _rate(subset)
    keep = ("load_s", "rss_start_mb", "rss_loaded_mb", "rss_peak_mb")
    return {"name": result["name"], "options": result["options"], **{k: result[k] for k in keep}, **summary}


# ---- report ----------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def markdown(summaries: list[dict[str, Any]], results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Speech-to-text eval",
        "",
        f"{meta['items']} clips ({meta['audio_s']:.0f} s of audio), espeak-ng {meta['espeak']}, "
        f"{meta['threads']} threads, seed {meta['seed']}; total wall time {meta['wall_s']:.0f} s.",
        "",
        "| variant | EN WER | ZH CER | lang acc | RTF median | RTF p90 | CPU-s per audio-s | load s "
        "| RSS loaded MB | RSS peak MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        lines.append(
            f"| {s['name']} | {_pct(s['en_wer'])} | {_pct(s['zh_cer'])} | {_pct(s['language_accuracy'])} | "
            f"{s['rtf_median']:.3f} | {s['rtf_p90']:.3f} | {s['cpu_rtf_median']:.3f} | {s['load_s']:.1f} | "
            f"{s['rss_loaded_mb']:.0f} | {s['rss_peak_mb']:.0f} |"
        )
    lines += ["", "By condition (clean / noisy / phone):", ""]
    for s in summaries:
        en = " / ".join(_pct(s.get(f"en_wer_{c}")) for c in ("clean", "noisy", "phone"))
        zh = " / ".join(_pct(s.get(f"zh_cer_{c}")) for c in ("clean", "noisy", "phone"))
        lines.append(f"- {s['name']}: EN WER {en}; ZH CER {zh}")
    first = results[0]["items"]
    worst = sorted(first, key=lambda r: r["edits"] / max(r["length"], 1), reverse=True)[:8]
    lines += ["", f"Worst clips of {results[0]['name']}:", ""]
    lines += [f"- {r['id']} ({r['condition']}): `{r['reference']}` → `{r['hypothesis']}`" for r in worst]
    return "\n".join(lines) + "\n"


def _espeak_version() -> str:
    import subprocess

    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False).stdout
    return out.split(":")[1].split()[0] if ":" in out else out.strip()


def write_report(out: Path, results: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    summaries = [summarise(r) for r in results]
    out.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "variants": summaries, "items": {r["name"]: r["items"] for r in results}}
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(markdown(summaries, results, meta), encoding="utf-8")


def rescore(out: Path) -> None:
    """Recompute the error rates in `out`/report.json from its transcripts (after a normalisation change)."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    results = []
    for variant in report["variants"]:
        rows = report["items"][variant["name"]]
        for row in rows:
            row["edits"], row["length"] = errors(row["language"], row["reference"], row["hypothesis"])
        keep = ("name", "options", "load_s", "rss_start_mb", "rss_loaded_mb", "rss_peak_mb")
        results.append({**{k: variant[k] for k in keep}, "items": rows})
    write_report(out, results, report["meta"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=60, help="clips per language (default 60)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=sorted(VARIANTS))
    parser.add_argument("--cache-dir", type=Path, default=Path("var/cache"))
    parser.add_argument("--seed", type=int, default=20_240_601)
    parser.add_argument("--rescore", action="store_true", help="rescore --out's transcripts, run no model")
    args = parser.parse_args(argv)
    if args.rescore:
        rescore(args.out)
        print((args.out / "report.md").read_text(encoding="utf-8"))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not espeak_available():
        parser.error("espeak-ng is not installed (apt install espeak-ng)")
    started = time.perf_counter()
    items = speech_set(args.limit, args.seed)
    meta = {"items": len(items), "audio_s": sum(i.duration_s for i in items), "espeak": _espeak_version()}
    meta |= {"threads": args.threads, "seed": args.seed}
    results: list[dict[str, Any]] = []
    for name in args.variants:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results.append(pool.submit(run_variant, name, items, args.threads, args.cache_dir).result())
        log.info("%s done", name)
        meta["wall_s"] = time.perf_counter() - started
        write_report(args.out, results, meta)  # after each variant: a long run leaves what it measured
    print((args.out / "report.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
