"""Route a triaged (and drafted) ticket and plan its write-back: the plain function behind the tasks.

Idempotent: one decision per (triage result, draft); a redelivered task finds it and returns the
deliveries still pending, which the caller (re)enqueues; a delivery that was sent is never planned again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.inference.writeback.render import plan_deliveries
from shared.db import session_scope
from shared.drafting.brief import agent_brief, previous_tickets
from shared.drafting.models import Draft, latest_draft
from shared.integrations.config import Integration, Provider
from shared.integrations.models import Delivery, DeliveryStatus
from shared.metrics import TICKETS_ROUTED
from shared.routing.models import RoutingDecision
from shared.routing.policy import PolicyHolder, Route, RouteFacts, decide
from shared.tickets.models import Ticket, TriageResult

log = logging.getLogger(__name__)
GENERIC_SOURCES = ("generic", "api")


@dataclass
class RoutingContext:
    session_factory: sessionmaker[Session]
    policy: PolicyHolder
    integrations: dict[str, Integration]
    history_retention_days: float = 365.0  # how far back a customer's earlier tickets enter the brief

    def integration_for(self, source: str) -> Integration | None:
        """Tickets from a helpdesk integration go back to it; generic/API tickets to the `generic` one."""
        integration = self.integrations.get(source)
        if integration is None and source in GENERIC_SOURCES:
            integration = next(
                (i for i in self.integrations.values() if i.provider is Provider.GENERIC), None
            )
        return integration if integration is not None and integration.writeback else None


def facts_for(result: TriageResult, draft: Draft | None, attributes: dict | None = None) -> RouteFacts:
    heads = result.heads or {}
    return RouteFacts(
        intent=result.label,
        confidence=result.confidence,
        out_of_scope=result.out_of_scope,
        language=result.language,
        language_supported=result.language_supported,
        sentiment=(heads.get("sentiment") or {}).get("label"),
        priority=(heads.get("priority") or {}).get("label"),
        has_draft=draft is not None,
        draft_flags=list(draft.flags) if draft is not None else [],
        attributes=dict(attributes or {}),
    )


def _brief(
    session: Session, context: RoutingContext, ticket: Ticket, result: TriageResult, draft: Draft | None
) -> list[str]:
    """What the agent taking an escalated ticket reads first (shared.drafting.brief)."""
    history = previous_tickets(session, ticket, retention_days=context.history_retention_days)
    return agent_brief(ticket=ticket, result=result, history=history, draft=draft)


def _decide_and_plan(
    session: Session, context: RoutingContext, ticket: Ticket, result: TriageResult
) -> RoutingDecision:
    draft = latest_draft(session, ticket.id)
    key = f"{result.id}:{draft.id if draft else 0}"
    existing = session.scalars(select(RoutingDecision).where(RoutingDecision.key == key)).first()
    if existing is not None:
        return existing
    return decide_new(session, context, ticket, result, draft)[0]


def decide_new(
    session: Session, context: RoutingContext, ticket: Ticket, result: TriageResult, draft: Draft | None
) -> tuple[RoutingDecision, list[Delivery]]:
    """Decide for a (result, draft) that has no decision yet and plan its write-back deliveries, in the
    caller's transaction (flushed: the rows have their ids)."""
    policy = context.policy.get()
    decision = decide(policy, facts_for(result, draft, ticket.attributes))
    row = RoutingDecision(
        ticket_id=ticket.id,
        key=f"{result.id}:{draft.id if draft else 0}",
        triage_result_id=result.id,
        draft_id=draft.id if draft else None,
        route=decision.route,
        queue=decision.queue,
        reasons=decision.reasons,
        policy_version=policy.version,
    )
    session.add(row)
    session.flush()
    planned: list[Delivery] = []
    integration = context.integration_for(ticket.source)
    if integration is not None:
        brief = _brief(session, context, ticket, result, draft) if row.route == Route.ESCALATE else None
        planned = plan_deliveries(
            ticket=ticket, decision=row, result=result, draft=draft, integration=integration, brief=brief
        )
        session.add_all(planned)
        session.flush()
    TICKETS_ROUTED.labels(decision.route).inc()
    log.info("ticket %s routed: %s → %s (%s)", ticket.id, row.route, row.queue, "; ".join(row.reasons))
    return row, planned


def route_with_result(
    session: Session, ticket_id: str, result: TriageResult, *, context: RoutingContext
) -> list[int]:
    """Route a ticket's first result in the transaction that stores it (drafts off, no attachment
    pending): result, decision and deliveries commit together or not at all. No lookups — a new result has
    neither a draft nor a decision yet. The ids of the deliveries to send once it commits."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return []
    _, planned = decide_new(session, context, ticket, result, None)
    return [delivery.id for delivery in planned]


def route_ticket(*, ticket_id: str, context: RoutingContext) -> list[int]:
    """Decide (once) and return the ids of this decision's pending deliveries."""
    for _ in range(2):  # a concurrent duplicate decision loses the unique key once, then reads the winner
        try:
            with session_scope(context.session_factory) as session:
                ticket = session.get(Ticket, ticket_id)
                result = ticket.latest_result if ticket is not None else None
                if ticket is None or result is None:
                    return []
                decision = _decide_and_plan(session, context, ticket, result)
                pending = select(Delivery.id).where(
                    Delivery.routing_decision_id == decision.id, Delivery.status == DeliveryStatus.PENDING
                )
                return list(session.scalars(pending.order_by(Delivery.id)))
        except IntegrityError:
            continue
    raise RuntimeError(f"routing of ticket {ticket_id} kept conflicting")
