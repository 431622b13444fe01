"""Reply-generation speed, one runtime per fresh process: transformers `generate` (PyTorch eager, the plain
way) against our onnxruntime decoding loop with the KV cache (fp32, w8, w4 and int8 decoders of the same
model), greedy with the drafting settings, at batch 1 and 8: tokens/s over the call and after the first
token, time to the first token, RSS, and how far each reduced decoder's drafts move from fp32's.

`python -m helploop.bench.generation SPEC.json` measures one runtime and prints its JSON."""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from helploop.bench.isolated import measure_in_fresh_process
from shared.registry import Registry

PLAIN = "transformers generate (PyTorch eager)"
OURS = "onnxruntime + KV cache, "  # + the decoder's kind
STACKED = f"{OURS}fp32, the cache stacked in one tensor (bundles before 2026-12-04)"
MODULE = "helploop.bench.generation"
BATCHES = (1, 8)


def _runner(spec: dict[str, Any]) -> tuple[Any, Any]:
    """Functions (prompts, new tokens) → generated tokens, and (prompts, new tokens) → each prompt's draft
    decoded alone as drafting serves it (None for the plain way), for the spec's runtime."""
    from services.trainer.generation.speed import _onnx_run, _torch_run

    if spec["kind"] == "torch":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(spec["threads"])
        tokenizer = AutoTokenizer.from_pretrained(spec["base_dir"])
        model = AutoModelForCausalLM.from_pretrained(spec["base_dir"], dtype=torch.float32).eval()
        model.to(spec.get("device", "cpu"))
        return (lambda prompts, n: _torch_run(model, tokenizer, prompts, n)[0]), None
    from shared.runtime.generator import GenerationConfig, OnnxGenerator

    generator = OnnxGenerator(Path(spec["bundle"]), version=spec["name"], intra_op_threads=spec["threads"])

    def drafts(prompts: list[str], n: int) -> list[str]:
        config = GenerationConfig(max_new_tokens=n, repetition_penalty=1.1)
        return [generator.generate([prompt], config)[0].text for prompt in prompts]

    return (lambda prompts, n: _onnx_run(generator, prompts, n)[0]), drafts


def _timed(run: Any, prompts: list[str], tokens: int, repeats: int) -> tuple[float, int]:
    samples, generated = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        generated = run(prompts, tokens)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), generated


def _speed_row(run: Any, prompts: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    """tokens/s over the whole call and after the first token (the prompts' prefill left out)."""
    if spec.get("warm_up", True):
        run(prompts, 4)
    first, _ = _timed(run, prompts, 1, spec["repeats"])  # prefill + one step: time to the first token
    seconds, tokens = _timed(run, prompts, spec["new_tokens"], spec["repeats"])
    stepped = tokens > len(prompts) and seconds > first
    decoding = (tokens - len(prompts)) / (seconds - first) if stepped else None
    return {
        "batch": len(prompts),
        "new_tokens": spec["new_tokens"],
        "tokens_per_s": round(tokens / seconds, 1),
        "decode_tokens_per_s": round(decoding, 1) if decoding else None,
        "first_token_ms": round(first * 1000, 1),
    }


def measure_runtime(spec: dict[str, Any]) -> dict[str, Any]:
    import psutil

    started = time.perf_counter()
    run, drafts = _runner(spec)
    result: dict[str, Any] = {"name": spec["name"], "load_seconds": round(time.perf_counter() - started, 2)}
    result["runs"] = [_speed_row(run, (spec["prompts"] * batch)[:batch], spec) for batch in spec["batches"]]
    if drafts is not None:  # greedy with EOS, one prompt at a time: what its drafts say (compared to fp32's)
        result["drafts"] = drafts(spec["prompts"], spec["new_tokens"])
    result["rss_mb"] = round(psutil.Process().memory_info().rss / 1e6, 1)
    return result


def fp32_bundle(settings: Any, scratch: Path) -> tuple[Registry, str]:
    """A scratch registry with the active generator's float32 bundle (its parent when the active one is
    quantized), or on a fresh clone the base model exported for this run (a minute or two)."""
    from services.trainer.generation.pipeline import build_generator
    from services.trainer.generation.train import GeneratorTrainConfig

    registry = Registry(settings.generator_registry_dir)
    scratch_registry = Registry(scratch / "generators")
    scratch_registry.root.mkdir(parents=True, exist_ok=True)
    version = registry.active_version()
    if version is not None and registry.manifest(version).get("quantization"):
        version = registry.manifest(version).get("parent_version")
    if version is not None and scratch_registry.bundle_dir(version).is_dir():
        return scratch_registry, version  # an earlier section of this run copied it here
    if version is None or not registry.bundle_dir(version).is_dir():
        version = build_generator(
            registry=scratch_registry,
            cache_dir=settings.cache_dir,
            examples=None,
            config=GeneratorTrainConfig(),
        )
    else:
        shutil.copytree(registry.bundle_dir(version), scratch_registry.root / version)
    return scratch_registry, version


_DERIVED: dict[tuple[str, str, str], str] = {}  # (registry, parent, mode) → version, within one bench run


def derived(registry: Registry, parent: str, mode: str, settings: Any) -> str:
    """`parent` quantized as `mode` (its decoder), once per registry: the generation and memory sections of
    one run share the scratch registry and so the quantized bundles. A bundle the configured generator
    registry already holds (`helploop export --generator --quantize MODE` of the same parent) is verified
    and copied, not quantized again."""
    from services.trainer.derive import copy_derived
    from services.trainer.quantize import quantize_bundle

    key = (str(registry.root), parent, mode)
    if key not in _DERIVED or not registry.bundle_dir(_DERIVED[key]).is_dir():
        configured = Registry(settings.generator_registry_dir)
        _DERIVED[key] = copy_derived(configured, registry, parent, mode) or quantize_bundle(
            registry, parent, mode=mode, graph="decoder.onnx"
        )
    return _DERIVED[key]


def _prompts(count: int = 8, *, drafting: bool = True) -> list[str]:
    """`count` demo tickets as drafting prompts (instructions, one knowledge-base passage, the ticket:
    150-205 tokens), or with `drafting=False` each ticket's first words alone as a one-line chat (what a
    smoke run decodes: the same code, a tenth of the prefill)."""
    from services.trainer.demo_data import generate_tickets
    from shared.drafting.prompt import Passage, build_prompt, render_chatml

    passage = Passage(
        "kb-1",
        "Delivery times",
        "Standard delivery takes 3-5 working days. Track your parcel from the link in the dispatch e-mail. "
        "If it has not arrived after 7 working days, we send a replacement or refund it.",
    )
    tickets = generate_tickets(per_intent=1, seed=21)[:count]
    if not drafting:
        return [render_chatml([{"role": "user", "content": " ".join(t.text.split()[:24])}]) for t in tickets]
    return [build_prompt(ticket=t.text, intent=t.label, passages=[passage]) for t in tickets]


def bench_generation(
    *,
    scratch: Path,
    settings: Any,
    threads: int,
    new_tokens: int = 48,
    repeats: int = 3,
    device: str = "cpu",
    batches: tuple[int, ...] = BATCHES,
    warm_up: bool = True,
    memory_gb_s: float | None = None,
    prompts: int = 8,
    drafting_prompts: bool = True,
) -> dict[str, Any]:
    """fp32, w8 (int8 weight blocks: what train-generator serves), w4 (4-bit blocks) and int8 decoders on a
    CPU; fp32 and fp16 (KV cache kept on the GPU) with `device="cuda"`. Each reduced decoder's drafts (the
    prompts one at a time, greedy with EOS) are scored against fp32's; with the machine's `memory_gb_s`,
    each decoding rate against its weight-read limit."""
    from services.trainer.generation.base import converted_dir

    registry, fp32 = fp32_bundle(settings, scratch)
    lows = ("fp16",) if device == "cuda" else ("w8", "w4", "int8")
    reduced = {low: derived(registry, fp32, low, settings) for low in lows}
    texts = _prompts(prompts, drafting=drafting_prompts)
    common = {"threads": threads, "prompts": texts, "batches": list(batches), "device": device}
    common.update(new_tokens=new_tokens, repeats=repeats, warm_up=warm_up)
    specs = [{"name": PLAIN, "kind": "torch", "base_dir": str(converted_dir(settings.cache_dir))}]
    specs += [
        {"name": f"{OURS}{kind}", "kind": "onnx", "bundle": str(registry.bundle_dir(v))}
        for kind, v in (("fp32", fp32), *reduced.items())
    ]
    stacked = _stacked(registry, fp32, Path(settings.cache_dir) / "bench-stacked")
    if stacked is not None:
        specs.insert(2, {"name": STACKED, "kind": "onnx", "bundle": str(stacked)})
    results = {spec["name"]: measure_in_fresh_process(MODULE, spec | common) for spec in specs}
    _compare(results, reference=f"{OURS}fp32")
    if memory_gb_s:
        for spec in specs:
            weights = _weight_bytes(Path(spec.get("bundle") or registry.bundle_dir(fp32)))
            _weight_read_limit(results[spec["name"]], weights, memory_gb_s)
    return {"model": fp32, "runtimes": results, "memory_read_gb_s": memory_gb_s}


def _weight_bytes(bundle: Path) -> int:
    """The decoder graph with its weights (and any external weight file beside it); the plain way runs the
    same float32 weights as the fp32 bundle."""
    return sum(f.stat().st_size for f in bundle.iterdir() if f.name.startswith("decoder"))


def _weight_read_limit(result: dict[str, Any], weights: int, memory_gb_s: float) -> None:
    """Each step reads every weight once for the whole batch: at most bandwidth × batch / weight bytes
    tokens/s after the first token (the embedding table, read a row at a time, is counted too: a bound
    slightly under the true one for the quantized bundles that keep it beside their output layer)."""
    result["weights_mb"] = round(weights / 1e6, 1)
    for row in result["runs"]:
        limit = memory_gb_s * 1e9 * row["batch"] / weights
        row["weight_read_limit_tokens_per_s"] = round(limit, 1)
        if row.get("decode_tokens_per_s"):
            row["pct_of_limit"] = round(100 * row["decode_tokens_per_s"] / limit, 1)


def _stacked(registry: Registry, version: str, cache: Path) -> Path | None:
    """The fp32 bundle in the cache layout of older bundles (the layout change's before, same weights);
    None when the bundle is one of those already. Kept in `cache` (one entry: the last bundle converted)
    under the bundle's file hashes and the converter's code, so a second run does not convert again."""
    from services.trainer.generation import cache_layout

    config = json.loads((registry.bundle_dir(version) / "config.json").read_text())
    if config.get("cache_layout") != "per_layer":
        return None
    key = hashlib.sha256(json.dumps(registry.manifest(version)["files"], sort_keys=True).encode())
    key.update(Path(cache_layout.__file__).read_bytes())
    target = cache / f"{version}-{key.hexdigest()[:16]}"
    if not (target / "config.json").is_file():  # written last
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        cache_layout.stacked_bundle(registry.bundle_dir(version), target)
    return target


def _compare(results: dict[str, Any], *, reference: str) -> None:
    """× the plain way and × fp32 per batch; each decoder's drafts scored against fp32's (chrF, ROUGE-L)."""
    from services.trainer.generation.evaluate import text_scores

    plain = {r["batch"]: r["tokens_per_s"] for r in results[PLAIN]["runs"]}
    fp32 = {r["batch"]: r["tokens_per_s"] for r in results[reference]["runs"]}
    parent_drafts = results[reference].get("drafts")
    for name, result in results.items():
        for row in result["runs"]:
            row["x_plain"] = round(row["tokens_per_s"] / plain[row["batch"]], 2)
            row["x_fp32"] = round(row["tokens_per_s"] / fp32[row["batch"]], 2)
        drafts = result.pop("drafts", None)
        if drafts is not None and parent_drafts is not None and name != reference:
            scores = text_scores(drafts, parent_drafts)
            result["vs_fp32"] = {key: round(value, 1) for key, value in scores.items()}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(measure_runtime(json.loads(Path(sys.argv[1]).read_text()))) + "\n")
