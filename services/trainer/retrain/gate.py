"""The quality gate: a candidate replaces the active model only if, on the same test sets, its macro-F1
is not lower by more than a margin, no well-supported class loses much F1, and it stays calibrated."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateConfig:
    max_macro_f1_drop: float = 0.005  # 0.5 pt, on each test set
    max_class_f1_drop: float = 0.05  # 5 pt, for classes with at least `min_class_support` examples
    min_class_support: int = 20
    max_ece: float = 0.05  # the candidate's primary head, on sets with at least `min_ece_examples`
    min_ece_examples: int = 100


@dataclass
class GateVerdict:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _check(verdict: GateVerdict, ok: bool, reason: str, **detail: Any) -> None:
    verdict.checks.append({**detail, "passed": ok})
    if not ok:
        verdict.passed = False
        verdict.reasons.append(reason)


def _pt(value: float) -> str:
    return f"{value * 100:.1f}"


def _macro_f1(
    verdict: GateVerdict, name: str, head: str, cand: dict, active: dict, config: GateConfig
) -> None:
    ours, theirs = cand["with_rejection"]["macro_f1"], active["with_rejection"]["macro_f1"]
    drop = theirs - ours
    limit = _pt(config.max_macro_f1_drop)
    reason = f"{name}/{head}: macro-F1 {_pt(ours)} vs active {_pt(theirs)} (drop {_pt(drop)} pt > {limit})"
    _check(
        verdict,
        drop <= config.max_macro_f1_drop + 1e-12,
        reason,
        set=name,
        head=head,
        check="macro_f1",
        candidate=ours,
        active=theirs,
        limit=config.max_macro_f1_drop,
    )


def _per_class(
    verdict: GateVerdict, name: str, head: str, cand: dict, active: dict, config: GateConfig
) -> None:
    for label, row in cand["per_class"].items():
        before = active["per_class"].get(label)
        if before is None or row["support"] < config.min_class_support:
            continue
        drop = before["f1"] - row["f1"]
        reason = (
            f"{name}/{head}: class {label!r} F1 {_pt(row['f1'])} vs {_pt(before['f1'])} (drop {_pt(drop)} pt)"
        )
        _check(
            verdict,
            drop <= config.max_class_f1_drop + 1e-12,
            reason,
            set=name,
            head=head,
            check="class_f1",
            label=label,
            candidate=row["f1"],
            active=before["f1"],
            limit=config.max_class_f1_drop,
        )


def _calibration(verdict: GateVerdict, name: str, head: str, cand: dict, config: GateConfig) -> None:
    ece = cand.get("ece")
    if ece is None or cand["examples"] < config.min_ece_examples:
        return
    reason = f"{name}/{head}: calibration ECE {ece:.3f} > {config.max_ece:.3f}"
    _check(
        verdict,
        ece <= config.max_ece,
        reason,
        set=name,
        head=head,
        check="ece",
        candidate=ece,
        limit=config.max_ece,
    )


def judge(
    candidate: dict[str, dict[str, Any]],
    active: dict[str, dict[str, Any]] | None,
    *,
    primary_head: str,
    config: GateConfig,
) -> GateVerdict:
    """`candidate` and `active`: {test set name: evaluate_bundle report}. Without an active model only
    calibration is checked. Every head both models have is compared; ECE on the primary head."""
    verdict = GateVerdict(passed=True)
    for name, report in candidate.items():
        heads = report["heads"]
        if primary_head in heads:
            _calibration(verdict, name, primary_head, heads[primary_head], config)
        if active is None or name not in active:
            continue
        for head, cand in heads.items():
            other = active[name]["heads"].get(head)
            if other is None or not cand["examples"]:
                continue
            _macro_f1(verdict, name, head, cand, other, config)
            _per_class(verdict, name, head, cand, other, config)
    return verdict
