"""Shadow drafts: a candidate generator drafts live tickets beside the active one, and its drafts are never
shown. When the ticket is resolved, each is scored against the agent's final reply exactly as adoption
scores the served draft (chrF, edit distance, sent_as_is / edited / discarded), next to the active draft's
score on the same ticket. The report answers, before a candidate serves anyone: would agents have kept its
drafts more often than today's, and is it flagged or slower more often?"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from statistics import median
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.drafting.adoption import ADOPTION_THRESHOLDS, Adoption, compare, summarise
from shared.drafting.models import Draft, DraftAdoption, ShadowDraft
from shared.integrations.models import Resolution
from shared.pii import redact

MAX_ROWS = 50_000


def score_shadow_drafts(
    session: Session, *, ticket_id: str, reply: str | None, active: Adoption | None, at: datetime
) -> int:
    """In the caller's transaction: score every shadow draft of the ticket against the agent's (redacted)
    reply, beside the served draft's adoption. Returns how many were scored."""
    if not reply:
        return 0
    rows = session.scalars(select(ShadowDraft).where(ShadowDraft.ticket_id == ticket_id)).all()
    for row in rows:
        _score(row, reply, active, at)
    return len(rows)


def _score(row: ShadowDraft, reply: str, active: Adoption | None, at: datetime) -> None:
    adoption = compare(redact(row.text), reply)
    row.outcome, row.chrf, row.edit_distance = adoption.outcome, adoption.chrf, adoption.edit_distance
    row.active_outcome = active.outcome if active else None
    row.active_chrf = active.chrf if active else None
    row.scored_at = at


def score_if_resolved(session: Session, row: ShadowDraft) -> bool:
    """A shadow draft written after its ticket was resolved is scored at once (the caller's transaction)."""
    resolution = session.scalars(select(Resolution).where(Resolution.ticket_id == row.ticket_id)).first()
    if resolution is None or not resolution.reply:
        return False
    served = session.scalars(select(DraftAdoption).where(DraftAdoption.ticket_id == row.ticket_id)).first()
    active = Adoption(served.outcome, served.chrf, served.edit_distance) if served is not None else None
    _score(row, resolution.reply, active, resolution.resolved_at)
    return True


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _drafting(rows: list[tuple[str, list[Any], float | None]]) -> dict[str, Any]:
    """(source, flags, latency) of drafts → model share, flag rate, median latency."""
    latencies = [latency for _, _, latency in rows if latency is not None]
    return {
        "model_share": _rate(sum(source == "model" for source, _, _ in rows), len(rows)),
        "flagged_rate": _rate(sum(bool(flags) for _, flags, _ in rows), len(rows)),
        "median_latency_ms": round(median(latencies), 1) if latencies else None,
    }


def _paired(rows: list[ShadowDraft]) -> dict[str, Any]:
    """The shadow's and the active draft's scores on the same resolved tickets, and chrF wins per ticket."""
    both = [r for r in rows if r.chrf is not None and r.active_chrf is not None]
    active = [SimpleNamespace(outcome=r.active_outcome, chrf=r.active_chrf, edit_distance=None) for r in both]
    return {
        "shadow": summarise([r for r in rows if r.outcome is not None]),
        "active": {k: v for k, v in summarise(active).items() if k != "mean_edit_distance"},
        "paired": len(both),
        "shadow_chrf_wins": sum(r.chrf > r.active_chrf for r in both),  # type: ignore[operator]
        "ties": sum(r.chrf == r.active_chrf for r in both),
        "active_chrf_wins": sum(r.chrf < r.active_chrf for r in both),  # type: ignore[operator]
    }


def shadow_drafts_report(
    *, session_factory: sessionmaker[Session], version: str, window_days: float
) -> dict[str, Any]:
    """`version`'s shadow drafts of the last `window_days` against the drafts the tickets were served:
    how they were drafted (model or template, flags, latency) and, for resolved tickets, what agents
    would have kept (overall, per language, per intent)."""
    since = utcnow() - timedelta(days=window_days)
    served = and_(
        Draft.ticket_id == ShadowDraft.ticket_id, Draft.generator_version == ShadowDraft.active_version
    )
    query = (
        select(ShadowDraft, Draft.source, Draft.flags, Draft.latency_ms)
        .outerjoin(Draft, served)
        .where(ShadowDraft.generator_version == version, ShadowDraft.created_at >= since)
        .order_by(ShadowDraft.created_at.desc())
        .limit(MAX_ROWS)
    )
    with session_scope(session_factory) as session:
        rows = session.execute(query).all()
        session.expunge_all()
    shadows = [row[0] for row in rows]
    groups: dict[str, dict[str, list[ShadowDraft]]] = defaultdict(lambda: defaultdict(list))
    for shadow in shadows:
        groups["per_language"][shadow.language or "unknown"].append(shadow)
        groups["per_intent"][shadow.intent or "unknown"].append(shadow)
    return {
        "version": version,
        "window_days": window_days,
        "thresholds": ADOPTION_THRESHOLDS,
        "drafted": len(shadows),
        "active_versions": sorted({s.active_version for s in shadows}),
        "drafting": {
            "shadow": _drafting([(s.source, s.flags, s.latency_ms) for s in shadows]),
            "active": _drafting(
                [(source, flags or [], latency) for _, source, flags, latency in rows if source]
            ),
        },
        **_paired(shadows),
        **{
            name: {key: _paired(items) for key, items in sorted(group.items())}
            for name, group in groups.items()
        },
    }
