"""Decoding speed, side by side in one process: transformers `generate` (PyTorch eager) against our
onnxruntime loop with the KV cache, at batch 1 and batch 8, on the same prompts and the same greedy
settings. Medians over repeats; tokens/s counts generated tokens only."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from shared.runtime.generator import GenerationConfig, OnnxGenerator


def _torch_run(model: Any, tokenizer: Any, prompts: list[str], new_tokens: int) -> tuple[int, float]:
    import torch

    tokenizer.padding_side = "left"
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            repetition_penalty=1.1,
            pad_token_id=tokenizer.pad_token_id,
        )
    return (out.shape[1] - inputs["input_ids"].shape[1]) * len(prompts), time.perf_counter() - started


def _onnx_run(generator: OnnxGenerator, prompts: list[str], new_tokens: int) -> tuple[int, float]:
    config = GenerationConfig(max_new_tokens=new_tokens, repetition_penalty=1.1)
    generator.eos_ids, saved = set(), generator.eos_ids  # same work as min_new_tokens on the torch side
    try:
        started = time.perf_counter()
        results = generator.generate(prompts, config)
        return sum(r.tokens for r in results), time.perf_counter() - started
    finally:
        generator.eos_ids = saved


def runtime_label(generator: OnnxGenerator) -> str:
    attention = generator.config.get("attention", "repeated K/V")
    return f"onnxruntime + KV cache, {attention} attention ({generator.version})"


def measure_speed(
    bundles: list[Path], base_dir: Path, prompts: list[str], *, new_tokens: int = 64, repeats: int = 3
) -> list[dict[str, Any]]:
    """Every bundle and the PyTorch way, interleaved per batch size so machine noise hits all alike."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32).eval()
    generators = [OnnxGenerator(bundle, version=bundle.name) for bundle in bundles]
    rows = []
    for batch in (1, 8):
        chunk = (prompts * batch)[:batch]
        runs: list[tuple[str, Any]] = [
            (
                "transformers generate (PyTorch eager)",
                lambda c=chunk: _torch_run(model, tokenizer, c, new_tokens),
            )
        ]
        runs += [(runtime_label(g), lambda c=chunk, g=g: _onnx_run(g, c, new_tokens)) for g in generators]
        for name, run in runs:
            run()  # warm-up
            rates = [tokens / seconds for tokens, seconds in (run() for _ in range(repeats))]
            rows.append({"runtime": name, "batch": batch, "tokens_per_second": statistics.median(rates)})
    return rows
