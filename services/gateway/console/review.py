"""What a label is worth, and how the labels are doing: the review queue (tickets without a final label,
most valuable first: low confidence, out of scope, a shadow model that disagrees), the count that feeds
the nightly retrain, and the daily series the Quality page draws (keyword-only, no HTTP)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.drafting.models import DraftAdoption
from shared.integrations.models import Resolution
from shared.learning.models import ShadowPrediction
from shared.tickets.models import Ticket, TriageResult

CANDIDATES = 200  # per reason: the lowest confidences, the out-of-scope, the shadow disagreements


@dataclass
class ReviewItem:
    ticket_id: str
    subject: str
    intent: str
    confidence: float
    top_k: list[Any]
    value: float = 0.0
    reasons: list[str] = field(default_factory=list)


def _unlabelled_latest() -> list[Any]:
    newer = aliased(TriageResult)
    return [
        ~exists().where(newer.ticket_id == TriageResult.ticket_id, newer.id > TriageResult.id),
        ~exists().where(Resolution.ticket_id == TriageResult.ticket_id),
    ]


def _candidates(session: Session, skip: set[str]) -> dict[str, tuple[TriageResult, str]]:
    base = select(TriageResult, Ticket.subject).join(Ticket, Ticket.id == TriageResult.ticket_id)
    base = base.where(*_unlabelled_latest())
    if skip:
        base = base.where(TriageResult.ticket_id.not_in(skip))
    found: dict[str, tuple[TriageResult, str]] = {}
    for query in (
        base.order_by(TriageResult.confidence, TriageResult.id).limit(CANDIDATES),
        base.where(TriageResult.out_of_scope.is_(True)).order_by(TriageResult.id.desc()).limit(CANDIDATES),
    ):
        for result, subject in session.execute(query):
            found[result.ticket_id] = (result, subject)
    return found


def _disagreements(session: Session, ids: set[str] | None, skip: set[str]) -> dict[str, ShadowPrediction]:
    query = select(ShadowPrediction).where(
        ShadowPrediction.label != ShadowPrediction.active_label,
        ~exists().where(Resolution.ticket_id == ShadowPrediction.ticket_id),
    )
    if skip:
        query = query.where(ShadowPrediction.ticket_id.not_in(skip))
    if ids is not None:
        query = query.where(ShadowPrediction.ticket_id.in_(ids))
    rows = session.scalars(query.order_by(ShadowPrediction.id.desc()).limit(CANDIDATES))
    return {row.ticket_id: row for row in rows}


def _shadow_candidates(session: Session, skip: set[str]) -> dict[str, tuple[TriageResult, str]]:
    ids = set(_disagreements(session, None, skip))
    if not ids:
        return {}
    query = select(TriageResult, Ticket.subject).join(Ticket, Ticket.id == TriageResult.ticket_id)
    query = query.where(TriageResult.ticket_id.in_(ids), *_unlabelled_latest())
    return {result.ticket_id: (result, subject) for result, subject in session.execute(query)}


def review_queue(
    *, session_factory: sessionmaker[Session], limit: int, skip: set[str] | None = None
) -> list[ReviewItem]:
    """Tickets without a final label, most valuable label first: 1 − confidence, +0.5 out of scope,
    +0.5 where a shadow model predicts another intent."""
    skip = skip or set()
    with session_scope(session_factory) as session:
        found = {**_candidates(session, skip), **_shadow_candidates(session, skip)}
        shadows = _disagreements(session, set(found), skip) if found else {}
        items = []
        for ticket_id, (result, subject) in found.items():
            item = ReviewItem(ticket_id, subject, result.label, result.confidence, list(result.top_k or []))
            item.value = 1.0 - result.confidence
            item.reasons.append(f"confidence {result.confidence:.2f}")
            if result.out_of_scope:
                item.value += 0.5
                item.reasons.append("out of scope")
            if (shadow := shadows.get(ticket_id)) is not None:
                item.value += 0.5
                item.reasons.append(f"shadow {shadow.model_version} says {shadow.label}")
            items.append(item)
    items.sort(key=lambda item: (-item.value, item.ticket_id))
    return items[:limit]


def label_counts(*, session_factory: sessionmaker[Session], since: datetime | None) -> dict[str, int]:
    """Final labels in storage: all, from this console, and resolved after `since` (the active model's
    creation: what the nightly retrain counts as new)."""
    with session_scope(session_factory) as session:
        total = session.scalar(select(func.count(Resolution.id))) or 0
        console = session.scalar(select(func.count(Resolution.id)).where(Resolution.source == "console"))
        new = total
        if since is not None:
            new = session.scalar(select(func.count(Resolution.id)).where(Resolution.resolved_at > since))
    return {"total": int(total), "console": int(console or 0), "new": int(new or 0)}


def _day(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as `YYYY-MM-DD`, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps UTC timestamps as ISO text


def _final_intent(session: Session) -> Any:
    labels = Resolution.final_labels
    return func.coalesce(labels["label"].as_string(), labels["intent"].as_string(), "unknown")


def quality_series(*, session_factory: sessionmaker[Session], window_days: int) -> dict[str, Any]:
    """Per day: the accuracy of the predictions agents' final labels confirmed or corrected, and what
    agents did with the drafts (kept as is, edited, discarded); per final intent over the whole window.
    Counted by the database (GROUP BY), so a month of 100,000 tickets costs one pass per chart."""
    since = utcnow() - timedelta(days=window_days)
    hits = func.sum(case((Resolution.correct.is_(True), 1), else_=0))
    judged = (Resolution.resolved_at >= since, Resolution.correct.is_not(None))
    with session_scope(session_factory) as session:
        day = _day(session, Resolution.resolved_at)
        daily = session.execute(
            select(day, func.count(), hits).where(*judged).group_by(day).order_by(day)
        ).all()
        intent = _final_intent(session)
        per_intent = session.execute(select(intent, func.count(), hits).where(*judged).group_by(intent)).all()
        adopted_day = _day(session, DraftAdoption.resolved_at)
        query = select(adopted_day, DraftAdoption.outcome, func.count()).where(
            DraftAdoption.resolved_at >= since
        )
        outcomes: dict[str, dict[str, int]] = defaultdict(dict)
        for at, outcome, n in session.execute(query.group_by(adopted_day, DraftAdoption.outcome)):
            outcomes[at][outcome] = n
    return {
        "window_days": window_days,
        "accuracy": [(at, n, (h or 0) / n) for at, n, h in daily],
        "adoption": sorted(outcomes.items()),
        "per_intent": sorted(((i, n, (h or 0) / n) for i, n, h in per_intent), key=lambda r: (-r[1], r[0])),
    }
