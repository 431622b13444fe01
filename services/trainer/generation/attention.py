"""Grouped-query attention written for export: no K/V repetition.

transformers' eager and SDPA paths repeat each key/value head for every query head of its group before
the matmuls (`repeat_kv`). Exported, that copies the whole KV cache three times per layer and step
(SmolLM2: 9 query heads over 3 KV heads), which dominates decoding once prompts are a few hundred tokens
long. Two ways round it, chosen by the bundle's `attention`:
- "onnx" (the default): one `scaled_dot_product_attention(..., enable_gqa=True)` call, which the exporter
  writes at opset 23 as ONNX's own `Attention` operator (grouped heads natively) beside opset 23's
  `RotaryEmbedding` and `RMSNormalization`: 973 nodes for SmolLM2 instead of 1,857, a decoding step
  onnxruntime runs with half the operator launches (docs/drafts.md, "ONNX attention").
- "grouped": queries reshaped to (batch, kv_heads, group, q, dim) and multiplied by the un-repeated cache
  through broadcasting, in plain operators (the exporter's default opset).
Same maths either way: the parity check compares greedy tokens with PyTorch's own attention.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

NAME = "helploop_grouped"
ONNX_NAME = "helploop_onnx"
ONNX_OPSET = 23  # ONNX `Attention`, `RotaryEmbedding`, `RMSNormalization`


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


def onnx_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **_: Any,
) -> tuple[torch.Tensor, None]:
    """The same contract as `grouped_attention`, as one SDPA call (exported as ONNX `Attention`)."""
    mask = None if attention_mask is None else attention_mask[:, :, :, : key.shape[-2]]
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, scale=scaling, enable_gqa=True
    )
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    for name, function in ((NAME, grouped_attention), (ONNX_NAME, onnx_attention)):
        AttentionInterface.register(name, function)
        AttentionMaskInterface.register(name, eager_mask)  # an additive float mask, as eager attention takes


@contextmanager
def grouped_attention_for_export(model: Any, name: str = NAME) -> Iterator[None]:
    """Switch the model (and every sub-config) to grouped attention (`NAME`, or `ONNX_NAME`) for the
    duration of an export."""
    register()
    configs = {id(c): c for c in [model.config, *(m.config for m in model.modules() if hasattr(m, "config"))]}
    previous = {key: config._attn_implementation for key, config in configs.items()}
    try:
        for config in configs.values():
            config._attn_implementation = name
        yield
    finally:
        for key, config in configs.items():
            config._attn_implementation = previous[key]
