"""Metric families follow Prometheus naming: one prefix, base units, `_total` counters, no id labels;
the guardrail flags pre-created at zero are the ones the guardrails raise."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared import metrics
from shared.drafting.guardrails import Flag

FORBIDDEN_LABELS = {
    "ticket_id",
    "ticket",
    "customer",
    "customer_id",
    "email",
    "id",
    "event_id",
    "external_id",
}


def families() -> list[object]:
    return [
        value for value in vars(metrics).values() if hasattr(value, "_name") and hasattr(value, "_labelnames")
    ]


def test_names_units_and_labels() -> None:
    found = families()
    assert len(found) >= 18
    for family in found:
        name = family._name  # type: ignore[attr-defined]
        assert name.startswith("helploop_"), name
        assert not set(family._labelnames) & FORBIDDEN_LABELS, name  # type: ignore[attr-defined]
        if isinstance(family, Histogram):
            assert name.endswith(("_seconds", "_tickets")), name  # a base unit
        if not isinstance(family, Counter | Histogram):
            assert not name.endswith("_total"), name  # a gauge is not a counter


def test_pre_created_flags_match_the_guardrails() -> None:
    flags = {value for key, value in vars(Flag).items() if not key.startswith("_")}
    assert set(metrics.GUARDRAIL_FLAGS) == flags
