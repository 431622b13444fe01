"""The 'before fine-tuning' baseline: nearest label centroid of pretrained sentence embeddings."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from services.trainer.data import Example
from services.trainer.evaluate import per_class

log = logging.getLogger(__name__)


@torch.no_grad()
def embed(
    model: Any, tokenizer: Any, texts: list[str], *, max_length: int, batch_size: int = 64
) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings (the sentence-transformers recipe of the MiniLM encoder)."""
    model.eval()
    chunks = []
    for start in range(0, len(texts), batch_size):
        inputs = tokenizer(
            texts[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        hidden = model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        chunks.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(chunks)


def centroid_baseline(
    base_dir: str, train: list[Example], test: list[Example], *, max_length: int
) -> dict[str, Any]:
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir, add_pooling_layer=False)
    log.info("zero-shot baseline: embedding %d train and %d test texts", len(train), len(test))
    train_vectors = embed(model, tokenizer, [e.text for e in train], max_length=max_length)
    test_vectors = embed(model, tokenizer, [e.text for e in test], max_length=max_length)
    heads: dict[str, Any] = {}
    for head in sorted({h for e in train for h in e.labels}):
        labels = sorted({e.labels[head] for e in train if head in e.labels})
        centroids = np.stack(
            [
                train_vectors[[i for i, e in enumerate(train) if e.labels.get(head) == label]].mean(0)
                for label in labels
            ]
        )
        rows = [i for i, e in enumerate(test) if head in e.labels]
        if not rows:
            continue
        predicted = [labels[j] for j in (test_vectors[rows] @ centroids.T).argmax(axis=1)]
        gold = [test[i].labels[head] for i in rows]
        table = per_class(gold, predicted, sorted(set(gold) | set(predicted)))
        heads[head] = {
            "accuracy": float(np.mean([g == p for g, p in zip(gold, predicted, strict=True)])),
            "macro_f1": float(np.mean([r["f1"] for r in table.values() if r["support"]])),
        }
    return {"method": "nearest centroid of mean-pooled pretrained embeddings", "heads": heads}
