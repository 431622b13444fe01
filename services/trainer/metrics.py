"""Classification metrics computed from label ids (no sklearn dependency)."""

from __future__ import annotations

import numpy as np


def accuracy(gold: np.ndarray, pred: np.ndarray) -> float:
    return float((gold == pred).mean()) if len(gold) else 0.0


def macro_f1(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> float:
    """Unweighted mean F1 over the labels present in gold or predictions."""
    scores = []
    for label in range(num_labels):
        tp = int(((pred == label) & (gold == label)).sum())
        fp = int(((pred == label) & (gold != label)).sum())
        fn = int(((pred != label) & (gold == label)).sum())
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0
