"""Adoption of drafts: recorded with each resolution that carries the agent's reply, reported over a
window (overall, per intent, per generator version, per language, per draft source)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.drafting.adoption import ADOPTION_THRESHOLDS, compare, summarise
from shared.drafting.models import DraftAdoption, latest_draft
from shared.drafting.shadow_service import score_shadow_drafts
from shared.pii import redact
from shared.tickets.models import Ticket

MAX_ROWS = 200_000


def record_adoption(
    session: Session, *, ticket: Ticket, reply: str | None, at: datetime
) -> DraftAdoption | None:
    """Compare the agent's (redacted) final reply with the ticket's latest draft, in the caller's
    transaction; a re-resolved ticket updates its row. None when there is no reply or no draft."""
    if not reply:
        return None
    draft = latest_draft(session, ticket.id)
    if draft is None:
        return None
    adoption = compare(redact(draft.text), reply)
    row = session.scalars(select(DraftAdoption).where(DraftAdoption.ticket_id == ticket.id)).first()
    if row is None:
        row = DraftAdoption(ticket_id=ticket.id)
        session.add(row)
    latest = ticket.latest_result
    row.draft_id = draft.id
    row.generator_version = draft.generator_version
    row.draft_source = draft.source
    row.intent = draft.intent
    row.language = (latest.language if latest else None) or ticket.language
    row.outcome = adoption.outcome
    row.chrf = adoption.chrf
    row.edit_distance = adoption.edit_distance
    row.resolved_at = at
    score_shadow_drafts(session, ticket_id=ticket.id, reply=reply, active=adoption, at=at)
    return row


def adoption_report(*, session_factory: sessionmaker[Session], window_days: float) -> dict[str, Any]:
    """Adoption of drafts resolved in the last `window_days`, overall and broken down."""
    since = utcnow() - timedelta(days=window_days)
    query = select(DraftAdoption).where(DraftAdoption.resolved_at >= since).limit(MAX_ROWS)
    with session_scope(session_factory) as session:
        rows = list(session.scalars(query))
        session.expunge_all()
    groups: dict[str, dict[str, list[DraftAdoption]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        groups["per_intent"][row.intent or "unknown"].append(row)
        groups["per_generator_version"][row.generator_version].append(row)
        groups["per_language"][row.language or "unknown"].append(row)
        groups["per_source"][row.draft_source].append(row)
    return {
        "window_days": window_days,
        "thresholds": ADOPTION_THRESHOLDS,
        **summarise(rows),
        **{
            name: {key: summarise(items) for key, items in sorted(group.items())}
            for name, group in groups.items()
        },
    }
