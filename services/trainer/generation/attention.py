"""Grouped-query attention written for export: no K/V repetition.

transformers' eager and SDPA paths repeat each key/value head for every query head of its group before
the matmuls (`repeat_kv`). Exported, that copies the whole KV cache three times per layer and step
(SmolLM2: 9 query heads over 3 KV heads), which dominates decoding once prompts are a few hundred tokens
long. Here queries are reshaped to (batch, kv_heads, group, q, dim) and multiplied by the un-repeated
cache through broadcasting, so onnxruntime reads each cached head once. Same maths: the parity check
compares greedy tokens with PyTorch's own attention.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

NAME = "helploop_grouped"


def grouped_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **_: Any,
) -> tuple[torch.Tensor, None]:
    """query (B, H, q, D); key/value (B, KV, P, D); additive mask (B, 1, q, P) → (B, q, H, D)."""
    batch, heads, length, dim = query.shape
    kv_heads = key.shape[1]
    scale = scaling if scaling is not None else dim**-0.5
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, length, dim)
    scores = torch.matmul(grouped, key.unsqueeze(2).transpose(-1, -2)) * scale
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]].unsqueeze(2)
    probabilities = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    out = torch.matmul(probabilities, value.unsqueeze(2)).reshape(batch, heads, length, dim)
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(NAME, grouped_attention)
    AttentionMaskInterface.register(NAME, eager_mask)  # an additive float mask, as eager attention takes


@contextmanager
def grouped_attention_for_export(model: Any) -> Iterator[None]:
    """Switch the model (and every sub-config) to grouped attention for the duration of an export."""
    register()
    configs = {id(c): c for c in [model.config, *(m.config for m in model.modules() if hasattr(m, "config"))]}
    previous = {key: config._attn_implementation for key, config in configs.items()}
    try:
        for config in configs.values():
            config._attn_implementation = NAME
        yield
    finally:
        for key, config in configs.items():
            config._attn_implementation = previous[key]
