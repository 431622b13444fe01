"""Shared by the console's tests: signing a test client in (the small registry lives beside the seeded
inbox, in `helploop.bench.console_data`, which the benchmark uses too)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from helploop.bench.console_data import small_registry
from shared.db import session_scope
from shared.integrations.models import Delivery, DeliveryStatus
from shared.routing.models import RoutingDecision

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: FlaskClient, path: str = "/console/sign-in") -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def sign_in(client: FlaskClient, key: str) -> None:
    response = client.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf_of(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def dead_delivery(factory: Any, ticket_id: str, *, status_code: int, error: str) -> int:
    """A write-back that gave up (8 attempts) on the ticket's routing decision; returns its id."""
    with session_scope(factory) as session:
        decision = session.scalars(
            select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id)
        ).one()
        row = Delivery(
            ticket_id=ticket_id, routing_decision_id=decision.id, integration="zendesk", provider="zendesk",
            kind="note", idempotency_key=f"dead-{ticket_id}", payload={}, status=DeliveryStatus.DEAD,
            attempts=8, last_status_code=status_code, last_error=error,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


__all__ = ["csrf_of", "dead_delivery", "sign_in", "small_registry"]
