"""Temperature scaling, ECE, and the out-of-scope rules on synthetic logits with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.trainer.calibration import calibrate_head, choose_rejection, fit_temperature
from shared.runtime.classifier import OUT_OF_SCOPE, HeadSpec, predict_head
from shared.runtime.scoring import energy_score, expected_calibration_error, in_scope_score, softmax

OOS_SPEC = HeadSpec(
    name="intent",
    output="o",
    labels=["a", "b", "oos"],
    oos_label="oos",
    reject_method="max_prob",
    reject_threshold=0.6,
)


def overconfident(n: int = 4000, classes: int = 5, scale: float = 3.0, seed: int = 0):  # type: ignore[no-untyped-def]
    """Labels drawn from softmax(z); the 'model' reports scale·z, i.e. it is overconfident by `scale`."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, size=(n, classes))
    gold = np.array([rng.choice(classes, p=p) for p in softmax(z)])
    return z * scale, gold


def test_fit_temperature_recovers_the_overconfidence_factor() -> None:
    logits, gold = overconfident(scale=3.0)
    assert abs(fit_temperature(logits, gold) - 3.0) < 0.3


def test_calibration_lowers_ece_and_nll() -> None:
    logits, gold = overconfident(scale=2.5)
    result = calibrate_head(logits, gold)
    assert result.ece_after < result.ece_before / 2
    assert result.nll_after < result.nll_before


def test_calibration_keeps_t_one_when_it_would_not_help() -> None:
    logits, gold = overconfident(scale=1.0, n=300, seed=3)
    result = calibrate_head(logits, gold)
    assert result.ece_after <= result.ece_before


def test_ece_of_a_perfectly_calibrated_constant() -> None:
    probabilities = np.tile([0.7, 0.3], (1000, 1))
    gold = np.array([0] * 700 + [1] * 300)
    assert expected_calibration_error(probabilities, gold) < 1e-9
    assert abs(expected_calibration_error(probabilities, np.zeros(1000, dtype=int)) - 0.3) < 1e-9


def test_energy_is_a_temperature_scaled_logsumexp() -> None:
    logits = np.array([[2.0, 1.0, 0.0]])
    assert np.allclose(energy_score(logits, 2.0), 2.0 * np.log(np.exp(logits / 2.0).sum()))
    assert in_scope_score(logits, method="max_prob")[0] == softmax(logits).max()


def test_rejection_with_oos_examples_separates_them() -> None:
    rng = np.random.default_rng(1)
    in_scope = rng.normal(0, 1, size=(500, 4))
    in_scope[np.arange(500), rng.integers(0, 4, 500)] += 6  # confident in-scope
    gold_in = in_scope.argmax(axis=1)
    oos = rng.normal(0, 1, size=(100, 4))  # flat: no class stands out
    logits = np.vstack([np.c_[in_scope, np.full(500, -5.0)], np.c_[oos, np.full(100, -5.0)]])
    gold = np.concatenate([gold_in, np.full(100, 4)])
    rule = choose_rejection(logits, gold, temperature=1.0, oos_index=4)
    assert rule.oos_recall > 0.9 and rule.in_scope_accuracy > 0.95


def test_rejection_without_oos_rejects_a_small_low_confidence_share() -> None:
    logits, gold = overconfident(scale=1.0, n=1000)
    rule = choose_rejection(logits, gold, temperature=1.0, oos_index=None, max_false_rejection=0.05)
    assert rule.oos_recall is None and rule.false_rejection_rate <= 0.05 + 1e-9


def test_the_teams_reject_rate_sets_the_share_of_known_tickets_set_aside(tmp_path: Path) -> None:
    from services.trainer.config import TrainConfig
    from services.trainer.pipeline import rejection_options

    logits, gold = overconfident(scale=1.0, n=1000)
    for rate in (0.02, 0.10):
        config = TrainConfig(train_file=tmp_path / "t.csv", oos_reject_rate=rate)
        rule = choose_rejection(logits, gold, **rejection_options(config, 1.0, None))
        assert rate - 0.002 <= rule.false_rejection_rate <= rate + 1e-9, (rate, rule)
    with pytest.raises(ValueError, match="oos_reject_rate"):
        TrainConfig(train_file=tmp_path / "t.csv", oos_reject_rate=0.7)


def test_predict_head_applies_threshold_and_oos_class() -> None:
    spec = OOS_SPEC
    rows = predict_head(spec, np.array([[5.0, 0.0, 0.0], [1.0, 0.9, 0.0], [0.0, 0.0, 5.0]]), top_k=2)
    assert [(r.label, r.out_of_scope) for r in rows] == [
        ("a", False),
        (OUT_OF_SCOPE, True),
        (OUT_OF_SCOPE, True),
    ]
    assert rows[1].top_k[0][0] == "a"
    plain = HeadSpec(name="intent", output="o", labels=["a", "b", "oos"])
    assert predict_head(plain, np.array([[1.0, 0.9, 0.0]]), top_k=1)[0].label == "a"


def test_head_report_counts_oos_queries_and_rejections() -> None:
    from services.trainer.data import Example
    from services.trainer.evaluate import head_report

    spec = OOS_SPEC
    logits = np.array([[5.0, 0, 0], [0, 5.0, 0], [1.0, 0.9, 0], [0, 0, 5.0], [4.0, 0, 0]])
    gold = ["a", "b", "a", "oos", "oos"]
    report = head_report(spec, logits, [Example(f"t{i}", {"intent": g}) for i, g in enumerate(gold)])
    assert report["accuracy"] == 4 / 5  # argmax: a, b, a, oos-class, a (wrong)
    assert report["with_rejection"]["accuracy"] == 3 / 5  # the third is rejected
    assert report["oos"] == {
        "in_scope_accuracy": 2 / 3,
        "oos_recall": 0.5,
        "oos_precision": 0.5,
        "oos_support": 2,
    }
    assert report["oos_without_threshold"]["oos_recall"] == 0.5


def test_oos_threshold_keeps_in_scope_accuracy_within_the_allowed_drop() -> None:
    rng = np.random.default_rng(2)
    margins = rng.uniform(0, 6, 600)  # in-scope confidence varies widely, overlapping OOS
    in_scope = rng.normal(0, 1, size=(600, 4))
    gold_in = rng.integers(0, 4, 600)
    in_scope[np.arange(600), gold_in] += margins
    oos = rng.normal(0, 1, size=(150, 4))
    logits = np.vstack([np.c_[in_scope, np.full(600, -5.0)], np.c_[oos, np.full(150, -5.0)]])
    gold = np.concatenate([gold_in, np.full(150, 4)])
    base = float((logits[:600].argmax(1) == gold_in).mean())
    for drop in (0.0, 0.01, 0.05):
        rule = choose_rejection(logits, gold, temperature=1.0, oos_index=4, max_in_scope_drop=drop)
        assert rule.in_scope_accuracy >= base - drop - 1e-9
    loose = choose_rejection(logits, gold, temperature=1.0, oos_index=4, max_in_scope_drop=0.05)
    strict = choose_rejection(logits, gold, temperature=1.0, oos_index=4, max_in_scope_drop=0.0)
    assert loose.oos_recall >= strict.oos_recall


def test_a_saturated_threshold_is_not_chosen() -> None:
    """Validation classified right with huge margins and a sharpening temperature: every top probability
    is 1.0, and a max-prob threshold at its 2 % quantile (1.0) would reject any ticket short of certainty."""
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 5, 400)
    logits = rng.normal(0, 1, (400, 5)) + 60.0 * np.eye(5)[gold]
    top = in_scope_score(logits, method="max_prob", temperature=0.05)
    assert np.quantile(top, 0.02) >= top.max() - 1e-9  # what the rule would have been
    rule = choose_rejection(logits, gold, temperature=0.05, oos_index=None, max_false_rejection=0.02)
    assert rule.method == "energy" and rule.false_rejection_rate <= 0.03, rule
