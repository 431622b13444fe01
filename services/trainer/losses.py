"""The fine-tune's loss: masked cross-entropy per head and class weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from services.trainer.data import Example

IGNORE = -100  # a head without a label for this example: masked out of that head's loss


def class_weights(
    train: list[Example], head_labels: dict[str, list[str]], mode: str
) -> dict[str, torch.Tensor]:
    """'balanced': n / (k · count) per class, as in scikit-learn; 'sqrt': its square root, scaled to a mean
    of 1 over the examples (rare intents count more without drowning the common one); 'none': no weights."""
    if mode == "none":
        return {}
    weights = {}
    for head, labels in head_labels.items():
        counts = np.array(
            [sum(e.labels.get(head) == label for e in train) for label in labels], dtype=np.float64
        )
        balanced = counts.sum() / (len(labels) * np.maximum(counts, 1))
        if mode == "sqrt":
            balanced = np.sqrt(balanced)
            balanced /= (balanced * counts).sum() / counts.sum()
        weights[head] = torch.tensor(balanced, dtype=torch.float32)
    return weights


def step_loss(
    model: Any,
    outputs: tuple[torch.Tensor, ...],
    targets: dict[str, torch.Tensor],
    weights: dict[str, torch.Tensor],
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Sum over heads of cross-entropy; examples without a label for a head are ignored by that head."""
    losses = []
    for name, logits in zip(model.head_names, outputs, strict=True):
        target = targets[name]
        if (target != IGNORE).any():
            losses.append(
                torch.nn.functional.cross_entropy(
                    logits,
                    target,
                    weight=weights.get(name),
                    ignore_index=IGNORE,
                    label_smoothing=label_smoothing,
                )
            )
    return torch.stack(losses).sum()
