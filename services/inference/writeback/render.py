"""What a routing decision becomes in the helpdesk: an internal note with tags and fields, a public reply
(auto-reply route only), or a signed callback body. Rendered once per delivery and stored."""

from __future__ import annotations

import re
from typing import Any

from shared.drafting.models import Draft
from shared.integrations.config import Integration, Provider
from shared.integrations.models import Delivery, DeliveryKind
from shared.routing.models import RoutingDecision
from shared.routing.policy import Route
from shared.tickets.models import Ticket, TriageResult

MARKER_PREFIX = "helploop-delivery:"


def tag(*parts: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", "_".join(parts).lower()).strip("_")[:80]


def _head_summary(result: TriageResult) -> str:
    parts = [f"intent: {result.label} ({result.confidence:.0%})"]
    for name, head in (result.heads or {}).items():
        if name != "label":
            parts.append(f"{name}: {head['label']} ({head['confidence']:.0%})")
    if result.language:
        parts.append(f"language: {result.language}")
    return " · ".join(parts)


def note_text(
    decision: RoutingDecision,
    result: TriageResult,
    draft: Draft | None,
    marker: str,
    brief: list[str] | None = None,
) -> str:
    """`brief`: the escalation brief for the agent (shared.drafting.brief), right after the route."""
    lines = [
        f"helploop triage · route: {decision.route} → queue {decision.queue}",
        f"Why: {'; '.join(decision.reasons)}",
        *(["", *brief, ""] if brief else []),
        _head_summary(result) + ("" if not result.out_of_scope else " · out of scope"),
        f"Classifier: {result.model_version}",
    ]
    if draft is not None:
        cited = ", ".join(draft.citations) or "none"
        lines += ["", f"Suggested reply ({draft.source}; knowledge base: {cited}):", draft.text]
        if draft.flags:
            lines += ["", "Guardrail flags: " + "; ".join(draft.reasons or draft.flags)]
    return "\n".join([*lines, "", f"{MARKER_PREFIX} {marker}"])


def tags_for(decision: RoutingDecision, result: TriageResult) -> list[str]:
    return [
        "helploop",
        tag("helploop_route", decision.route),
        tag("helploop_queue", decision.queue),
        tag("helploop_intent", result.label),
    ]


def field_values(integration: Integration, decision: RoutingDecision, result: TriageResult) -> dict[str, Any]:
    values: dict[str, Any] = {
        "intent": result.label,
        "confidence": round(result.confidence, 4),
        "route": decision.route,
        "queue": decision.queue,
    }
    for name, head in (result.heads or {}).items():
        values.setdefault(name, head["label"])
    return {name: values[name] for name in integration.custom_fields if name in values}


def callback_body(
    ticket: Ticket, decision: RoutingDecision, result: TriageResult, draft: Draft | None
) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "external_id": ticket.external_id,
        "route": decision.route,
        "queue": decision.queue,
        "reasons": list(decision.reasons),
        "classification": {
            "label": result.label,
            "confidence": result.confidence,
            "out_of_scope": result.out_of_scope,
            "heads": result.heads,
            "language": result.language,
            "model_version": result.model_version,
        },
        "draft": None
        if draft is None
        else {"text": draft.text, "citations": draft.citations, "flags": draft.flags, "source": draft.source},
    }


def plan_deliveries(
    *,
    ticket: Ticket,
    decision: RoutingDecision,
    result: TriageResult,
    draft: Draft | None,
    integration: Integration,
    brief: list[str] | None = None,
) -> list[Delivery]:
    """The deliveries one decision needs. A public reply only for the auto-reply route with a clean draft;
    `brief` goes into the note (and the callback body) of an escalated ticket."""
    base = {"external_id": ticket.external_id, "customer_email": ticket.customer_email}

    def make(kind: DeliveryKind, payload: dict[str, Any]) -> Delivery:
        key = f"{ticket.id}:{decision.id}:{kind}"
        return Delivery(
            ticket_id=ticket.id,
            routing_decision_id=decision.id,
            integration=integration.name,
            provider=integration.provider,
            kind=kind,
            idempotency_key=key,
            payload={**base, **payload, "marker": key},
            attempts=0,
        )

    if integration.provider is Provider.GENERIC:
        body = {**callback_body(ticket, decision, result, draft), **({"brief": brief} if brief else {})}
        return [make(DeliveryKind.CALLBACK, {"body": body})]
    key = f"{ticket.id}:{decision.id}:{DeliveryKind.NOTE}"
    note = {
        "text": note_text(decision, result, draft, key, brief),
        "tags": tags_for(decision, result),
        "fields": field_values(integration, decision, result),
    }
    planned = [make(DeliveryKind.NOTE, note)]
    if decision.route == Route.AUTO_REPLY and draft is not None and not draft.flags:
        planned.append(make(DeliveryKind.REPLY, {"text": draft.text}))
    return planned
