"""A customer's earlier tickets: for the drafting prompt (what they asked, what we replied) and for the
agent's brief on escalation.

Only this customer's: the same customer id, else the same e-mail, from the same helpdesk, received no later
than the ticket at hand and within the retention window (`HELPLOOP_HISTORY_RETENTION_DAYS`), newest first.
Texts are PII-redacted again on the way out (the stored resolution is redacted already; the ticket text
is the customer's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.drafting.prompt import MAX_HISTORY, EarlierTicket
from shared.integrations.models import Resolution
from shared.pii import redact
from shared.tickets.models import Ticket, TriageResult

HISTORY_LIMIT = 3


@dataclass(frozen=True)
class Earlier:
    ticket: Ticket
    result: TriageResult | None
    resolution: Resolution | None

    def for_prompt(self) -> EarlierTicket:
        intent = (self.resolution.final_labels or {}).get("label") if self.resolution else None
        reply = self.resolution.reply if self.resolution and self.resolution.reply else None
        return EarlierTicket(
            day=day(self.ticket.received_at),
            intent=intent or (self.result.label if self.result else None),
            ticket=redact(self.ticket.text),
            reply=redact(reply) if reply else None,
        )


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def earlier_tickets(
    session: Session, ticket: Ticket, *, retention_days: float, limit: int = HISTORY_LIMIT
) -> list[Earlier]:
    """This customer's earlier tickets, newest first (see the module docstring for who counts)."""
    same = []
    if ticket.customer_id:
        same.append(Ticket.customer_id == ticket.customer_id)
    if ticket.customer_email:
        same.append(Ticket.customer_email == ticket.customer_email)
    if not same:
        return []
    since = utcnow() - timedelta(days=retention_days)
    query = (
        select(Ticket)
        .where(
            or_(*same),
            Ticket.id != ticket.id,
            Ticket.source == ticket.source,
            Ticket.received_at >= since,
            Ticket.received_at <= ticket.received_at,
        )
        .order_by(Ticket.received_at.desc())
        .limit(limit)
    )
    found = []
    for earlier in session.scalars(query):
        result = session.scalars(
            select(TriageResult).where(TriageResult.ticket_id == earlier.id).order_by(TriageResult.id.desc())
        ).first()
        resolution = session.scalars(select(Resolution).where(Resolution.ticket_id == earlier.id)).first()
        found.append(Earlier(earlier, result, resolution))
    return found


def prompt_history(session: Session, ticket: Ticket, *, retention_days: float) -> list[EarlierTicket]:
    """The earlier tickets the drafting prompt shows (the newest `MAX_HISTORY`)."""
    found = earlier_tickets(session, ticket, retention_days=retention_days, limit=MAX_HISTORY)
    return [e.for_prompt() for e in found]
