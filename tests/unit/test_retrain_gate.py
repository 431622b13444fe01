"""The quality gate on synthetic evaluation reports."""

from __future__ import annotations

from typing import Any

from services.trainer.retrain.gate import GateConfig, judge

CONFIG = GateConfig()


def head(macro_f1: float, classes: dict[str, tuple[float, int]], *, ece: float = 0.02, n: int = 200) -> dict:
    return {
        "examples": n,
        "ece": ece,
        "with_rejection": {"macro_f1": macro_f1},
        "per_class": {label: {"f1": f1, "support": support} for label, (f1, support) in classes.items()},
    }


def report(**heads: dict) -> dict[str, Any]:
    return {"heads": heads}


BASE = {"a": (0.90, 50), "b": (0.80, 50)}


def test_equal_models_pass() -> None:
    same = {"golden": report(intent=head(0.85, BASE))}
    verdict = judge(same, same, primary_head="intent", config=CONFIG)
    assert verdict.passed and verdict.reasons == []
    assert {c["check"] for c in verdict.checks} == {"macro_f1", "class_f1", "ece"}


def test_macro_f1_drop_over_half_a_point_fails_on_any_set() -> None:
    active = {"golden": report(intent=head(0.85, BASE)), "recent": report(intent=head(0.70, BASE))}
    candidate = {"golden": report(intent=head(0.846, BASE)), "recent": report(intent=head(0.69, BASE))}
    verdict = judge(candidate, active, primary_head="intent", config=CONFIG)
    assert not verdict.passed
    assert verdict.reasons == ["recent/intent: macro-F1 69.0 vs active 70.0 (drop 1.0 pt > 0.5)"]


def test_class_drop_counts_only_with_enough_support() -> None:
    active = {"golden": report(intent=head(0.85, {"a": (0.90, 50), "rare": (0.90, 19)}))}
    candidate = {"golden": report(intent=head(0.85, {"a": (0.84, 50), "rare": (0.10, 19), "new": (0.9, 30)}))}
    verdict = judge(candidate, active, primary_head="intent", config=CONFIG)
    assert verdict.reasons == ["golden/intent: class 'a' F1 84.0 vs 90.0 (drop 6.0 pt)"]


def test_every_shared_head_is_compared_and_ece_only_on_the_primary() -> None:
    active = {"golden": report(intent=head(0.85, BASE), sentiment=head(0.80, BASE, ece=0.2))}
    candidate = {"golden": report(intent=head(0.86, BASE, ece=0.08), sentiment=head(0.78, BASE, ece=0.3))}
    verdict = judge(candidate, active, primary_head="intent", config=CONFIG)
    assert verdict.reasons == [
        "golden/intent: calibration ECE 0.080 > 0.050",
        "golden/sentiment: macro-F1 78.0 vs active 80.0 (drop 2.0 pt > 0.5)",
    ]


def test_ece_on_a_small_set_is_not_gated_and_no_active_model_checks_only_calibration() -> None:
    small = {"recent": report(intent=head(0.5, BASE, ece=0.4, n=40))}
    assert judge(small, None, primary_head="intent", config=CONFIG).passed
    big = {"golden": report(intent=head(0.5, BASE, ece=0.06))}
    assert not judge(big, None, primary_head="intent", config=CONFIG).passed
    loose = GateConfig(max_ece=0.1)
    assert judge(big, None, primary_head="intent", config=loose).passed
