"""The arithmetic a fine-tune's forward and backward passes run in: bfloat16 autocast where the CPU multiplies
bfloat16 natively (AVX512_BF16 or AMX), else float32. The weights, the optimizer's state, the losses and
every evaluation, calibration and export stay float32; only the matrix products of the training steps
round their inputs to bfloat16 (and accumulate in float32). A CPU without those instructions would emulate
bfloat16 more slowly than float32, so `auto` keeps float32 there. Imports nothing heavy: the option's
choices are read where `helploop train --help` is built."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """The CPU has bfloat16 dot products (Linux `/proc/cpuinfo` flags; elsewhere: no)."""
    cpuinfo = Path("/proc/cpuinfo")
    try:
        flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """`auto` → `bf16` on a CPU with native bfloat16, else `fp32`; a GPU run keeps what was asked (`auto`:
    fp32, its own mixed precision being another matter)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if device == "cpu" and native_bf16() else "fp32"


@contextlib.contextmanager
def training_autocast(precision: str, device: str = "cpu") -> Iterator[None]:
    """Around a training step's forward pass and loss (the backward pass follows the same casts)."""
    import torch

    enabled = resolve_precision(precision, device) == "bf16"
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=enabled):
        yield
