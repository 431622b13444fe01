"""The multi-head classifier: one encoder pass, mean pooling, one linear head per label set."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from transformers import AutoModel

log = logging.getLogger(__name__)
FREEZE_STRATEGIES = ("none", "embeddings", "bottom_n:<k>", "head_only")


def mean_pool(
    encoder: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
) -> torch.Tensor:
    """Mean of the encoder's last hidden states over real (unpadded) tokens."""
    hidden = encoder(
        input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
    ).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class MultiHeadClassifier(nn.Module):
    """`forward` returns a tuple of logits, one per head in `head_names` order (one ONNX output each)."""

    def __init__(self, encoder: Any, head_sizes: dict[str, int], *, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.head_names = list(head_sizes)
        self.dropout = nn.Dropout(dropout)
        hidden = int(encoder.config.hidden_size)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, size) for name, size in head_sizes.items()})

    def pool(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        """Mean of the last hidden states over real tokens: the sentence embedding every head reads."""
        return mean_pool(self.encoder, input_ids, attention_mask, token_type_ids)

    def classify(self, pooled: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled = self.dropout(pooled)
        return tuple(self.heads[name](pooled) for name in self.head_names)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        return self.classify(self.pool(input_ids, attention_mask, token_type_ids))


class WithEmbedding(nn.Module):
    """The serving graph: every head's logits, then the pooled embedding (for embedding-space OOS rules)."""

    def __init__(self, model: MultiHeadClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        pooled = self.model.pool(input_ids, attention_mask, token_type_ids)
        return (*self.model.classify(pooled), pooled)


def build_classifier(model_dir: str, head_sizes: dict[str, int], *, dropout: float) -> MultiHeadClassifier:
    encoder = AutoModel.from_pretrained(model_dir, add_pooling_layer=False)
    return MultiHeadClassifier(encoder, head_sizes, dropout=dropout)


def apply_freeze(model: MultiHeadClassifier, strategy: str) -> int:
    """Freeze part of the encoder; returns the number of trainable parameters left."""
    encoder = model.encoder
    if strategy == "none":
        frozen: list[nn.Module] = []
    elif strategy == "embeddings":
        frozen = [encoder.embeddings]
    elif strategy.startswith("bottom_n:"):
        count = int(strategy.split(":", 1)[1])
        frozen = [encoder.embeddings, *encoder.encoder.layer[:count]]
    elif strategy == "head_only":
        frozen = [encoder]
    else:
        raise ValueError(f"unknown freeze strategy {strategy!r}; use one of {FREEZE_STRATEGIES}")
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("freeze strategy %s: %d trainable parameters", strategy, trainable)
    return trainable
