"""The classification section of `make bench`: derive the fused and int8 bundles of the measured model,
run every variant in its own process on the same texts, and put them beside the machine's limit."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from helploop.bench.isolated import measure_in_fresh_process
from helploop.bench.limits import encoder_flops_per_token
from helploop.bench.texts import TextSet, long_emails, short_texts
from shared.registry import Registry

log = logging.getLogger(__name__)
BATCHES = (1, 8, 32)
PLAIN = "transformers pipeline (PyTorch eager)"
MODULE = "helploop.bench.classification"


def low_precision(limits: dict[str, Any]) -> tuple[str, str]:
    """The reduced-precision variant and the limit it is held to: fp16 on a GPU, int8 on a CPU."""
    return ("fp16", "fp16_gflops") if "fp16_gflops" in limits else ("int8", "int8_gops")


def derive_bundles(source: Registry, root: Path, *, low: str = "int8") -> dict[str, Path]:
    """fp32 (the active bundle as trained), fused (onnxruntime's transformer optimizer), and `low` (the
    fused graph in dynamic int8, or fp16 for GPUs): three bundles of one model in a scratch registry.
    Children `source` already holds (`helploop export --fuse`, then `--quantize` of the fused one) are
    verified and copied instead of derived again."""
    from services.trainer.derive import copy_derived
    from services.trainer.optimize import fuse_bundle
    from services.trainer.quantize import quantize_bundle

    version = source.active_version()
    if version is None:
        raise LookupError(f"no active model in {source.root}")
    registry = Registry(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source.bundle_dir(version), root / version)
    fused = copy_derived(source, registry, version, "fused") or fuse_bundle(registry, version)
    reduced = copy_derived(source, registry, fused, low) or quantize_bundle(registry, fused, mode=low)
    return {name: registry.bundle_dir(v) for name, v in (("fp32", version), ("fused", fused), (low, reduced))}


def token_counts(bundle: Path, texts: list[str]) -> float:
    """Mean tokens per text as the runtime sees them (special tokens included, truncated)."""
    from tokenizers import Tokenizer

    config = json.loads((bundle / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=int(config["max_length"]))
    return sum(len(e.ids) for e in tokenizer.encode_batch(texts)) / len(texts)


def _quality(results: dict[str, dict[str, Any]], labels: list[str] | None) -> dict[str, Any]:
    """Top-1 agreement of each ONNX variant with fp32, and accuracy where the model knows the labels."""
    reference = results["fp32"]["predictions"]
    low = "fp16" if "fp16" in results else "int8"
    quality: dict[str, Any] = {}
    for name in ("fp32", "fused", low):
        predicted = results[name]["predictions"]
        row = {
            "agreement_with_fp32": round(
                sum(a == b for a, b in zip(predicted, reference, strict=True)) / len(reference), 4
            )
        }
        if labels is not None:
            row["accuracy"] = round(
                sum(a == b for a, b in zip(predicted, labels, strict=True)) / len(labels), 4
            )
        quality[name] = row
    if labels is not None:
        quality[f"{low}_accuracy_delta_pt"] = round(
            100 * (quality[low]["accuracy"] - quality["fp32"]["accuracy"]), 2
        )
    return quality


def bench_classification(
    *, source: Registry, base_dir: Path, datasets_dir: Path, threads: int, limits: dict[str, Any],
    short_n: int = 256, long_n: int = 48, quality_n: int = 1000, timeout: float = 900,
    passes: int = 2, warm_up: bool = True,
) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="helploop-bench-cls-") as tmp:
        scratch = Path(tmp)
        low, _ = low_precision(limits)
        bundles = derive_bundles(source, scratch / "models", low=low)
        labelled = short_texts(datasets_dir, max(short_n, quality_n))
        sets = {"short": labelled, "long": long_emails(labelled, long_n)}
        (scratch / "texts.json").write_text(json.dumps({k: {"texts": v.texts} for k, v in sets.items()}))
        (scratch / "predict.json").write_text(json.dumps(labelled.texts[:quality_n]))
        config = json.loads((bundles["fp32"] / "config.json").read_text())
        intents = next(h["labels"] for h in config["heads"] if h["name"] == "intent")
        common = {
            "threads": threads, "texts_file": str(scratch / "texts.json"), "batches": list(BATCHES),
            "sets": list(sets), "tickets": {"short": short_n, "long": long_n},
            "max_length": int(config["max_length"]), "device": limits.get("device", "cpu"),
            "passes": passes, "warm_up": warm_up,
        }  # fmt: skip
        specs = [{"name": PLAIN, "kind": "torch", "base_dir": str(base_dir), "num_labels": len(intents)}]
        specs += [
            {"name": name, "kind": "onnx", "bundle": str(path), "predict_file": str(scratch / "predict.json")}
            for name, path in bundles.items()
        ]
        results = {
            spec["name"]: measure_in_fresh_process(MODULE, common | spec, timeout=timeout) for spec in specs
        }
        tokens = {
            name: round(token_counts(bundles["fp32"], s.texts[: common["tickets"][name]]), 1)
            for name, s in sets.items()
        }
        gold = labelled.labels[:quality_n] if _knows(intents, labelled) else None
        return _summary(results, tokens, sets, gold, limits, encoder_config(base_dir))


def _knows(intents: list[str], texts: TextSet) -> bool:
    return texts.labels is not None and set(texts.labels) <= set(intents)


def encoder_config(base_dir: Path) -> dict[str, Any]:
    return json.loads((base_dir / "config.json").read_text())


def _summary(
    results: dict[str, dict[str, Any]], tokens: dict[str, float], sets: dict[str, TextSet],
    gold: list[str] | None, limits: dict[str, Any], architecture: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    low, low_limit = low_precision(limits)
    ceilings = {}
    for name, mean_tokens in tokens.items():
        flops = encoder_flops_per_token(architecture, mean_tokens) * mean_tokens
        ceilings[name] = {
            "mean_tokens": mean_tokens,
            "fp32_tickets_per_s": round(limits["fp32_gflops"] * 1e9 / flops, 1),
            f"{low}_tickets_per_s": round(limits[low_limit] * 1e9 / flops, 1),
        }
    variants = {}
    for name, result in results.items():
        runs = []
        for run in result["runs"]:
            ceiling = ceilings[run["set"]][f"{low}_tickets_per_s" if name == low else "fp32_tickets_per_s"]
            runs.append({**run, "pct_of_limit": round(100 * run["tickets_per_s"] / ceiling, 1)})
        variants[name] = {"load_seconds": result["load_seconds"], "rss_mb": result["rss_mb"], "runs": runs}
    return {
        "sets": {name: {"source": s.source, "tickets": len(s.texts)} for name, s in sets.items()},
        "limits": ceilings,
        "variants": variants,
        "quality": _quality(results, gold),
        "speedup_vs_plain": _speedups(variants),
    }


def _speedups(variants: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Tickets/s of each of our variants over the plain way, per set and batch."""
    plain = {(r["set"], r["batch"]): r["tickets_per_s"] for r in variants[PLAIN]["runs"]}
    return {
        name: {
            f"{r['set']}@{r['batch']}": round(r["tickets_per_s"] / plain[(r["set"], r["batch"])], 2)
            for r in v["runs"]
        }
        for name, v in variants.items()
        if name != PLAIN
    }
