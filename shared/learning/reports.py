"""What the learning loop reports from storage: a shadow model against the active one, and the live
accuracy of a model from agents' final labels (resolutions)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.integrations.models import Resolution
from shared.learning.models import ShadowPrediction

MAX_ROWS = 50_000


def final_intent(labels: dict[str, Any] | None) -> str | None:
    labels = labels or {}
    value = labels.get("label") or labels.get("intent")
    return str(value) if value else None


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def shadow_report(*, session_factory: sessionmaker[Session], version: str) -> dict[str, Any]:
    """Agreement with the active model on live tickets, and both models' accuracy against the final
    labels of the tickets resolved so far (overall and per final intent)."""
    query = (
        select(ShadowPrediction.label, ShadowPrediction.active_label, Resolution.final_labels)
        .outerjoin(Resolution, Resolution.ticket_id == ShadowPrediction.ticket_id)
        .where(ShadowPrediction.model_version == version)
        .order_by(ShadowPrediction.created_at.desc())
        .limit(MAX_ROWS)
    )
    with session_scope(session_factory) as session:
        rows = session.execute(query).all()
    agree = sum(shadow == active for shadow, active, _ in rows)
    per_intent: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, shadow right, active right
    for shadow, active, labels in rows:
        if (gold := final_intent(labels)) is not None:
            counts = per_intent[gold]
            counts[0] += 1
            counts[1] += shadow == gold
            counts[2] += active == gold
    labelled = sum(c[0] for c in per_intent.values())
    return {
        "version": version,
        "predictions": len(rows),
        "agreement": _rate(agree, len(rows)),
        "labelled": labelled,
        "shadow_accuracy": _rate(sum(c[1] for c in per_intent.values()), labelled),
        "active_accuracy": _rate(sum(c[2] for c in per_intent.values()), labelled),
        "per_intent": {
            gold: {"n": n, "shadow_accuracy": _rate(s, n), "active_accuracy": _rate(a, n)}
            for gold, (n, s, a) in sorted(per_intent.items())
        },
    }


def live_accuracy(
    *, session_factory: sessionmaker[Session], version: str, window_days: float
) -> dict[str, Any]:
    """Rolling accuracy of `version`'s predictions against agents' final intents in the window."""
    since = utcnow() - timedelta(days=window_days)
    query = (
        select(Resolution.predicted_label, Resolution.final_labels)
        .where(Resolution.model_version == version, Resolution.resolved_at >= since)
        .limit(MAX_ROWS)
    )
    with session_scope(session_factory) as session:
        rows = session.execute(query).all()
    per_intent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for predicted, labels in rows:
        if (gold := final_intent(labels)) is not None and predicted is not None:
            per_intent[gold][0] += 1
            per_intent[gold][1] += predicted == gold
    total = sum(n for n, _ in per_intent.values())
    return {
        "version": version,
        "window_days": window_days,
        "resolved": total,
        "accuracy": _rate(sum(h for _, h in per_intent.values()), total),
        "per_intent": {
            gold: {"n": n, "accuracy": _rate(h, n)} for gold, (n, h) in sorted(per_intent.items())
        },
    }
