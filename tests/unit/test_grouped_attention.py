"""The export-time grouped-query attentions (broadcast, and ONNX `Attention` via SDPA) equal transformers'
eager attention (which repeats K/V)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["grouped_attention", "onnx_attention"])
def test_grouped_attention_matches_eager_attention_with_repeated_kv(name: str) -> None:
    from transformers.models.llama.modeling_llama import eager_attention_forward

    from services.trainer.generation import attention

    grouped_attention = getattr(attention, name)

    torch.manual_seed(0)
    batch, heads, kv_heads, new, past, dim = 2, 9, 3, 4, 7, 16
    query = torch.randn(batch, heads, new, dim)
    key, value = torch.randn(batch, kv_heads, past + new, dim), torch.randn(batch, kv_heads, past + new, dim)
    mask = torch.zeros(batch, 1, new, past + new)
    mask[0, :, :, :3] = torch.finfo(torch.float32).min  # left padding of the first row
    mask[:, :, :, past + 1 :] += torch.triu(torch.full((new, new - 1), torch.finfo(torch.float32).min))
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads
    expected, _ = eager_attention_forward(module, query, key, value, mask, scaling=dim**-0.5)
    ours, _ = grouped_attention(module, query, key, value, mask, scaling=dim**-0.5)
    assert ours.shape == expected.shape == (batch, new, heads, dim)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    wrong_grouping, _ = grouped_attention(module, query.flip(1), key, value, mask, scaling=dim**-0.5)
    assert not torch.allclose(wrong_grouping.flip(2), expected, atol=1e-3)
