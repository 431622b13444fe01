"""The embedding-space out-of-scope rule: class Gaussians, their file, and their use at inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.trainer.calibration import choose_rejection
from shared.runtime.classifier import OUT_OF_SCOPE, HeadSpec, predict_head
from shared.runtime.ood import MAHALANOBIS, ClassGaussians, fit_class_gaussians


def clusters(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three tight, anisotropic classes in 8 dimensions; returns embeddings, labels and the class centres."""
    centres = rng.normal(0, 5, size=(3, 8))
    labels = rng.integers(0, 3, n)
    spread = np.array([3.0, 3.0, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])
    return centres[labels] + rng.normal(0, 1, size=(n, 8)) * spread, labels, centres


def test_distance_follows_the_shared_covariance() -> None:
    rng = np.random.default_rng(0)
    embeddings, labels, centres = clusters(rng)
    gaussians = fit_class_gaussians(embeddings, labels)
    along = centres[0] + np.array([3.0, 0, 0, 0, 0, 0, 0, 0])  # one σ along a wide axis
    across = centres[0] + np.array([0, 0, 3.0, 0, 0, 0, 0, 0])  # fifteen σ along a narrow one
    near, far = gaussians.score(np.stack([along, across]))
    assert near > far  # Euclidean distance would call them equal
    assert gaussians.score(centres).max() > near


def test_statistics_survive_the_bundle_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    embeddings, labels, _ = clusters(rng)
    gaussians = fit_class_gaussians(embeddings, labels)
    gaussians.save(tmp_path / "ood_intent.npz")
    loaded = ClassGaussians.load(tmp_path / "ood_intent.npz")
    np.testing.assert_allclose(loaded.score(embeddings), gaussians.score(embeddings), rtol=1e-4)


def test_validation_picks_the_embedding_rule_when_logits_cannot_see_oos() -> None:
    rng = np.random.default_rng(2)
    embeddings, labels, centres = clusters(rng, n=400)
    gaussians = fit_class_gaussians(embeddings[:300], labels[:300])
    outliers = centres[rng.integers(0, 3, 60)] + rng.normal(0, 1, size=(60, 8)) * 3.0  # off the narrow axes
    valid = np.vstack([embeddings[300:], outliers])
    gold = np.concatenate([labels[300:], np.full(60, 3)])
    logits = np.zeros((len(valid), 4))
    logits[np.arange(100), labels[300:]] = 8.0  # in-scope: confident and right
    logits[np.arange(100, 160), rng.integers(0, 3, 60)] = 8.0  # OOS: just as confident, so logits can't tell
    rule = choose_rejection(
        logits, gold, temperature=1.0, oos_index=3, extra_scores={MAHALANOBIS: gaussians.score(valid)}
    )
    assert rule.method == MAHALANOBIS
    assert rule.oos_recall >= 0.9 and rule.in_scope_accuracy >= 0.98


def test_predict_head_uses_embedding_scores_and_refuses_to_ignore_them() -> None:
    spec = HeadSpec(
        name="intent", output="o", labels=["a", "b"], reject_method=MAHALANOBIS, reject_threshold=-10.0
    )
    logits = np.array([[5.0, 0.0], [5.0, 0.0]])
    rows = predict_head(spec, logits, top_k=1, scores=np.array([-1.0, -50.0]))
    assert [r.label for r in rows] == ["a", OUT_OF_SCOPE]
    with pytest.raises(ValueError, match="embedding scores"):
        predict_head(spec, logits, top_k=1)
