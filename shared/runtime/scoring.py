"""Logits to calibrated probabilities and in-scope scores (numpy only; used by trainer and worker)."""

from __future__ import annotations

import itertools

import numpy as np

REJECT_METHODS = ("max_prob", "energy")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    shifted = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Negative free energy, T·logsumexp(logits/T): higher means more in-distribution."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    peak = scaled.max(axis=-1)
    return temperature * (peak + np.log(np.exp(scaled - peak[:, None]).sum(axis=-1)))


def in_scope_score(logits: np.ndarray, *, method: str, temperature: float = 1.0) -> np.ndarray:
    """The score compared with a head's rejection threshold: below it, a ticket is out of scope."""
    if method == "max_prob":
        return softmax(logits, temperature).max(axis=-1)
    if method == "energy":
        return energy_score(logits, temperature)
    raise ValueError(f"unknown rejection method {method!r}; use one of {REJECT_METHODS}")


def expected_calibration_error(probabilities: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins: Σ_b (n_b/N)·|accuracy_b − confidence_b|."""
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)
