"""Embedding-space out-of-scope score: Mahalanobis distance to the nearest class mean (numpy only).

Class-conditional Gaussians with one shared covariance, fitted on the fine-tuned encoder's pooled
embeddings of the in-scope training tickets (Lee et al., 2018; Podolskiy et al., 2021 for transformer
intent classifiers). A ticket far from every class is out of scope even when the softmax is confident.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAHALANOBIS = "mahalanobis"


@dataclass(frozen=True)
class ClassGaussians:
    means: np.ndarray  # classes × dim
    precision: np.ndarray  # dim × dim, inverse of the shared (shrunk) covariance

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """Minus the squared Mahalanobis distance to the nearest class mean: higher means more in scope."""
        x = np.asarray(embeddings, dtype=np.float64)
        projected = x @ self.precision
        own = np.einsum("bd,bd->b", projected, x)[:, None]
        means_term = np.einsum("cd,cd->c", self.means @ self.precision, self.means)[None, :]
        distances = own - 2.0 * projected @ self.means.T + means_term
        return -distances.min(axis=1)

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, means=self.means.astype(np.float32), precision=self.precision.astype(np.float32))

    @classmethod
    def load(cls, path: Path) -> ClassGaussians:
        with np.load(path) as data:
            return cls(data["means"].astype(np.float64), data["precision"].astype(np.float64))


def fit_class_gaussians(
    embeddings: np.ndarray, labels: np.ndarray, *, shrinkage: float = 0.05
) -> ClassGaussians:
    """Class means and the shared within-class covariance, shrunk towards a scaled identity."""
    x = np.asarray(embeddings, dtype=np.float64)
    classes = np.unique(labels)
    means = np.stack([x[labels == c].mean(axis=0) for c in classes])
    centred = x - means[np.searchsorted(classes, labels)]
    covariance = centred.T @ centred / max(len(x) - len(classes), 1)
    dim = covariance.shape[0]
    target = np.trace(covariance) / dim * np.eye(dim)
    shrunk = (1.0 - shrinkage) * covariance + shrinkage * target
    return ClassGaussians(means, np.linalg.pinv(shrunk, hermitian=True))
