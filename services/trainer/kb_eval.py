"""Sentence encoders for `helploop kb-eval` (torch lives here, never in the gateway).

By default each encoder is the ONNX bundle workers run (`helploop kb build-encoder`'s export: MiniLM fp32,
multilingual-e5-small int8 with its `query: ` / `passage: ` prefixes); `torch=True` gives the fp32 PyTorch
model with the same mean pooling and L2 normalisation, to show what the export and quantization cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.base_model import MINILM_L6, MULTILINGUAL_E5_SMALL
from shared.kb.retrieval_eval import Embed
from shared.settings import Settings

log = logging.getLogger(__name__)
ENCODERS = (MINILM_L6, MULTILINGUAL_E5_SMALL)
MAX_LENGTH = 256  # as the exported KB encoder
E5_MAX_LENGTH = 512

PrefixedEmbed = Callable[[list[str], str], np.ndarray]


def torch_embedder(model_dir: Path, *, max_length: int = MAX_LENGTH, batch_size: int = 32) -> PrefixedEmbed:
    """`embed(texts, prefix)`: mean-pooled unit vectors of `prefix + text` from a HF encoder directory."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval()

    def embed(texts: list[str], prefix: str = "") -> np.ndarray:
        rows = [np.zeros((0, model.config.hidden_size), dtype=np.float32)]
        for start in range(0, len(texts), batch_size):
            batch = [prefix + t for t in texts[start : start + batch_size]]
            inputs = tokenizer(
                batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            with torch.no_grad():
                hidden = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(rows)

    return embed


def _onnx_encoder(name: str, settings: Settings) -> Any:
    """The KB encoder bundle workers would run for `name` (exported on first use, not activated)."""
    from services.trainer.encoder_export import build_sentence_encoder
    from shared.registry import Registry
    from shared.runtime.encoder import SentenceEncoder

    registry = Registry(settings.encoder_registry_dir)
    version = build_sentence_encoder(registry, base=name, cache_dir=settings.cache_dir, activate=False)
    log.info("kb-eval: %s from the exported ONNX bundle %s", name, version)
    return SentenceEncoder(registry.bundle_dir(version), version=version), version


def encoder_pair(
    name: str, *, settings: Settings, prefixes: bool = True, torch: bool = False
) -> tuple[Embed, Embed, str]:
    """(embed_queries, embed_passages, description) for an encoder name from `ENCODERS`: the ONNX bundle
    as served (in `settings.encoder_registry_dir`), or (`torch`) the fp32 PyTorch model with the same
    pooling."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose from {', '.join(ENCODERS)}")
    if not torch:
        encoder, version = _onnx_encoder(name, settings)
        if not prefixes:
            return encoder.embed, encoder.embed, f"{version} (ONNX, no prefixes)"
        return encoder.embed_queries, encoder.embed_passages, f"{version} (ONNX)"
    from services.trainer.base_model import resolve_base_model

    base = resolve_base_model(name, cache_dir=settings.cache_dir)
    if name == MINILM_L6:
        minilm = torch_embedder(base.directory)
        return minilm, minilm, "minilm-l6 (PyTorch, mean pooling)"
    e5 = torch_embedder(base.directory, max_length=E5_MAX_LENGTH)
    if not prefixes:
        return e5, e5, "multilingual-e5-small (PyTorch, no prefixes)"
    return (
        lambda texts: e5(texts, "query: "),
        lambda texts: e5(texts, "passage: "),
        "multilingual-e5-small (PyTorch, query:/passage:)",
    )
