"""Synthetic inbox data for the console's tests and its benchmark: tickets with a classification, a route,
a draft and, for some, a final label, written with bulk inserts (100,000 tickets in seconds)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import new_id, utcnow
from shared.drafting.models import Draft, DraftAdoption
from shared.integrations.models import Resolution
from shared.registry import Registry
from shared.routing.models import RoutingDecision
from shared.tickets.models import Ticket, TicketStatus, TriageResult

INTENTS = ("where_is_my_order", "refund_request", "cancel_order", "change_address", "invoice_request")
ROUTES = ("auto_reply", "draft", "escalate")
SUBJECTS = ("Where is my parcel?", "Refund please", "Cancel my order", "New address", "Invoice needed")


OUTCOMES = ("sent_as_is", "edited", "edited", "discarded")


def _ticket(i: int, now: Any, rng: random.Random, spacing_s: float) -> dict[str, Any]:
    kind = i % len(INTENTS)
    at = now - timedelta(seconds=i * spacing_s)
    return {
        "id": new_id(),
        "source": "api",
        "event_id": f"seed-{i}-{new_id()[:8]}",
        "external_id": f"EXT-{i}",
        "subject": f"{SUBJECTS[kind]} #{i}",
        "body": f"Order {1000 + i}: {SUBJECTS[kind].lower()} ({rng.random():.3f})",
        "customer_email": f"customer{i % 997}@example.com",
        "customer_name": None,
        "customer_id": None,
        "channel": "email",
        "language": "en",
        "attributes": {},
        "created_at": at,
        "status": TicketStatus.TRIAGED,
        "triage_attempts": 1,
        "received_at": at,
        "queued_at": at,
        "triaged_at": at,
        "attachment_decision": None,
        "failure_reason": None,
    }


def seed_inbox(
    session_factory: sessionmaker[Session],
    count: int,
    *,
    seed: int = 7,
    model_version: str = "v-seed",
    labelled_every: int = 10,
    batch: int = 5000,
    spacing_s: float = 7.0,
) -> list[str]:
    """`count` classified tickets (newest first by id order), each with a route and a draft; every
    `labelled_every`-th has a final label (every other one of those a correction). Returns the ids."""
    rng, now, ids = random.Random(seed), utcnow(), []
    for start in range(0, count, batch):
        tickets = [_ticket(i, now, rng, spacing_s) for i in range(start, min(count, start + batch))]
        with session_scope(session_factory) as session:
            session.execute(insert(Ticket), tickets)
            _classify(session, tickets, model_version, rng, labelled_every, start)
        ids += [t["id"] for t in tickets]
    return ids


def _result(
    ticket: dict[str, Any], version: str, label: str, other: str, confidence: float
) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"], "model_version": version, "label": label, "confidence": confidence,
        "top_k": [[label, confidence], [other, round((1 - confidence) * 0.6, 4)]],
        "out_of_scope": confidence < 0.35, "heads": None, "language": "en", "language_supported": True,
        "inference_ms": 9.0, "attachments_used": 0, "created_at": ticket["received_at"],
    }  # fmt: skip


def _final(ticket: dict[str, Any], version: str, label: str, final: str, confidence: float) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"], "source": "seed", "final_labels": {"label": final}, "text": ticket["body"],
        "reply": None, "model_version": version, "predicted_label": label, "predicted_confidence": confidence,
        "correct": final == label, "resolved_at": ticket["received_at"], "created_at": ticket["received_at"],
    }  # fmt: skip


def _draft(ticket: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"], "generator_version": "g-seed", "source": "model",
        "text": f"Hello, about {ticket['subject']}: we are on it.", "citations": [], "flags": [],
        "reasons": [], "intent": None, "prompt_tokens": 40, "tokens": 20, "latency_ms": 900.0,
        "created_at": ticket["received_at"],
    }  # fmt: skip


def _route(ticket: dict[str, Any], result_id: int, route: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"], "key": f"{result_id}:0", "triage_result_id": result_id, "draft_id": None,
        "route": route, "queue": "support", "reasons": [f"seeded {route}"], "policy_version": 1,
        "created_at": ticket["received_at"],
    }  # fmt: skip


def _classify(
    session: Session, tickets: list[dict[str, Any]], version: str, rng: random.Random, every: int, start: int
) -> None:
    """Each ticket's classification, draft and route; every `every`-th a final label (every other one of
    those a correction) and what the agent did with the draft."""
    results, finals = [], []
    for i, ticket in enumerate(tickets, start):
        label, other = INTENTS[i % len(INTENTS)], INTENTS[(i + 1) % len(INTENTS)]
        confidence = round(0.3 + 0.7 * rng.random(), 4)
        results.append(_result(ticket, version, label, other, confidence))
        if i % every == 0:
            finals.append(
                _final(ticket, version, label, label if i % (2 * every) == 0 else other, confidence)
            )
    session.execute(insert(TriageResult), results)
    query = select(TriageResult.ticket_id, TriageResult.id).where(
        TriageResult.ticket_id.in_([t["id"] for t in tickets])
    )
    ids = dict(session.execute(query).all())
    session.execute(insert(Draft), [_draft(ticket) for ticket in tickets])
    routes = [_route(t, ids[t["id"]], ROUTES[i % len(ROUTES)]) for i, t in enumerate(tickets, start)]
    session.execute(insert(RoutingDecision), routes)
    if finals:
        session.execute(insert(Resolution), finals)
        session.execute(insert(DraftAdoption), [_adoption(row, n) for n, row in enumerate(finals)])


def _adoption(final: dict[str, Any], n: int) -> dict[str, Any]:
    """What the agent did with the draft of a labelled ticket (kept, edited twice as often, discarded)."""
    outcome = OUTCOMES[n % len(OUTCOMES)]
    return {
        "ticket_id": final["ticket_id"],
        "draft_id": None,
        "generator_version": "g-seed",
        "draft_source": "model",
        "intent": final["final_labels"]["label"],
        "language": "en",
        "outcome": outcome,
        "chrf": {"sent_as_is": 100.0, "edited": 62.0, "discarded": 18.0}[outcome],
        "edit_distance": {"sent_as_is": 0.0, "edited": 0.3, "discarded": 0.9}[outcome],
        "resolved_at": final["resolved_at"],
    }


def small_registry(root: Path, versions: tuple[str, ...] = ("v1", "v2")) -> Registry:
    """Classifier bundles without weights (the gateway reads manifests and metrics, never a model): config,
    labels and a training history each; the first one active."""
    registry = Registry(root)
    for number, version in enumerate(versions):
        staging = root.parent / f"staging-{version}"
        staging.mkdir(parents=True)
        (staging / "config.json").write_text(
            json.dumps({"heads": [{"name": "label", "labels": list(INTENTS)}]})
        )
        history = [
            {
                "epoch": e,
                "train_loss": 1.0 / e,
                "loss": 1.1 / e,
                "heads": {"label": {"accuracy": 0.6 + 0.05 * e + 0.01 * number}},
            }
            for e in range(1, 5)
        ]
        (staging / "metrics.json").write_text(json.dumps({"history": history, "validation": history[-1]}))
        registry.publish(
            staging, version=version, manifest={"created_at": f"2026-12-0{number + 1}T00:00:00+00:00"}
        )
    registry.activate(versions[0])
    return registry
