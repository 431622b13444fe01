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


def reliability_bins(probabilities: np.ndarray, gold: np.ndarray, bins: int = 15) -> list[dict[str, float]]:
    """Equal-width confidence bins with their mean confidence and accuracy (empty bins left out)."""
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == gold
    out = []
    for low, high in itertools.pairwise(np.linspace(0.0, 1.0, bins + 1)):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            out.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "count": int(in_bin.sum()),
                    "confidence": float(confidence[in_bin].mean()),
                    "accuracy": float(correct[in_bin].mean()),
                }
            )
    return out


def expected_calibration_error(probabilities: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """ECE: Σ_b (n_b/N)·|accuracy_b − confidence_b| over equal-width confidence bins."""
    total = max(len(gold), 1)
    return float(
        sum(
            b["count"] / total * abs(b["accuracy"] - b["confidence"])
            for b in reliability_bins(probabilities, gold, bins)
        )
    )
