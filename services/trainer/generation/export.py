"""Export the generator to ONNX with a KV cache: one graph serves prefill and every decoding step.

Inputs: input_ids (B, T), attention_mask (B, P+T), position_ids (B, T), and per layer `past.{i}.key` and
`past.{i}.value`, each (B, kv_heads, P, head_dim), with P = 0 on the first call. Outputs: logits (B, 1,
vocab) of the last position and per layer `present.{i}.key` / `present.{i}.value` (B, kv_heads, P+T,
head_dim): the runtime feeds each step's outputs back as they are. (Bundles before `cache_layout`
"per_layer" stacked the cache into one (2·layers, B, kv_heads, P, head_dim) tensor; splitting and
re-stacking it copied the whole cache twice per step, some 30 % of a w4 step's kernel time at batch 8.)
The graph is checked against PyTorch before it is published.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)
BASE_INPUTS = ["input_ids", "attention_mask", "position_ids"]


def cache_names(prefix: str, layers: int) -> list[str]:
    """`past` / `present` tensor names, layer by layer, key before value (the runtime's order too)."""
    return [f"{prefix}.{layer}.{part}" for layer in range(layers) for part in ("key", "value")]


class DecoderWithCache(nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.layers = int(model.config.num_hidden_layers)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        past: list[torch.Tensor],
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        from transformers import DynamicCache

        cache = DynamicCache()
        for layer in range(self.layers):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,  # only the next token's distribution leaves the graph
        )
        present = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
        return out.logits, present


def cache_shape(config: Any, batch: int, past: int) -> tuple[int, ...]:
    """One layer's keys (or values): (batch, kv_heads, past, head_dim)."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return (batch, config.num_key_value_heads, past, head_dim)


def example_inputs(config: Any, *, batch: int = 2, past: int = 3, new: int = 4) -> tuple[Any, ...]:
    input_ids = torch.randint(0, config.vocab_size, (batch, new))
    attention_mask = torch.ones(batch, past + new, dtype=torch.long)
    position_ids = torch.arange(past, past + new).unsqueeze(0).repeat(batch, 1)
    cache = [torch.zeros(cache_shape(config, batch, past)) for _ in range(2 * config.num_hidden_layers)]
    return input_ids, attention_mask, position_ids, cache


ATTENTIONS = ("onnx", "grouped", "repeated")  # generation/attention.py; the first is the default


def export_decoder(model: Any, path: Path, *, attention: str = ATTENTIONS[0]) -> None:
    from services.trainer.generation.attention import (
        NAME,
        ONNX_NAME,
        ONNX_OPSET,
        grouped_attention_for_export,
    )

    model.eval()
    wrapper = DecoderWithCache(model)
    batch = torch.export.Dim("batch", min=1, max=256)
    new = torch.export.Dim("new_tokens", min=1, max=4096)
    past = torch.export.Dim("past", min=0, max=4096)
    total = torch.export.Dim("total", min=1, max=8192)
    shapes = {
        "input_ids": {0: batch, 1: new},
        "attention_mask": {0: batch, 1: total},
        "position_ids": {0: batch, 1: new},
        "past": [{0: batch, 2: past}] * (2 * wrapper.layers),
    }
    names = {"grouped": NAME, "onnx": ONNX_NAME}
    switch = (
        grouped_attention_for_export(model, names[attention])
        if attention in names
        else contextlib.nullcontext()
    )
    opset = {"opset_version": ONNX_OPSET} if attention == "onnx" else {}
    with warnings.catch_warnings(), torch.no_grad(), switch:
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapper,
            example_inputs(model.config),
            dynamo=True,
            dynamic_shapes=shapes,
            input_names=BASE_INPUTS + cache_names("past", wrapper.layers),
            output_names=["logits", *cache_names("present", wrapper.layers)],
            verbose=False,
            **opset,
        )
    # protobuf's 2 GiB limit: a larger graph (Qwen2.5-0.5B in float32) keeps its weights beside it
    parameters = sum(p.numel() for p in model.parameters())
    program.save(str(path), external_data=parameters * 4 > 1.8 * 2**30)


def generator_config(
    model: Any, tokenizer: Any, *, attention: str = ATTENTIONS[0], languages: tuple[str, ...] = ("en",)
) -> dict[str, Any]:
    config = model.config
    eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    shape = cache_shape(config, 1, 0)
    layers = int(config.num_hidden_layers)
    return {
        "task": "text-generation",
        "chat_format": "chatml",
        "eos_token_ids": sorted({int(t) for t in [*eos, im_end] if t is not None}),
        "pad_token_id": int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]),
        "cache_dims": [2 * layers, shape[1], shape[3]],  # (2·layers, kv_heads, head_dim)
        "cache_layout": "per_layer",  # past.{i}.key/value in, present.{i}.key/value out
        "max_context": int(min(getattr(config, "max_position_embeddings", 2048), 2048)),
        "attention": attention,  # ATTENTIONS: services/trainer/generation/attention.py
        "languages": list(languages),  # what its drafts are written in; other tickets get a template
        "prompt_language": True,  # its prompts name the reply's language (shared/drafting/prompt.py)
        "input_names": BASE_INPUTS + cache_names("past", layers),
        "output_names": ["logits", *cache_names("present", layers)],
    }


def write_generator_bundle(
    model: Any,
    tokenizer: Any,
    staging: Path,
    *,
    attention: str = ATTENTIONS[0],
    fine_tuned: bool = False,
    languages: list[str] | None = None,
) -> None:
    """`attention`: "onnx" (ONNX's Attention operator, the default), "grouped" (broadcast over the
    un-repeated cache) or "repeated" (transformers' own); `fine_tuned`: trained on replies (drafting
    never uses an untuned bundle's drafts); `languages`: what its drafts are written in (tickets in other
    languages get the template)."""
    import json

    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, not {attention!r}")
    export_decoder(model, staging / "decoder.onnx", attention=attention)
    tokenizer.save_pretrained(str(staging))
    config = {
        **generator_config(model, tokenizer, attention=attention, languages=tuple(languages or ("en",))),
        "fine_tuned": fine_tuned,
    }
    (staging / "config.json").write_text(json.dumps(config, indent=2))
