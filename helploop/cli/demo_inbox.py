"""`make run`'s demo inbox: when the database holds no ticket yet, the demo shop's customers write in
(English and Chinese tickets the demo model never trained on, posted through the signed generic webhook
as a helpdesk would), so the console opens on classified, routed and drafted tickets."""

from __future__ import annotations

import logging

import requests
from sqlalchemy import func, select

from helploop.cli.client import post_signed, ticket_payload
from shared.db import build_engine, build_session_factory, session_scope
from shared.settings import Settings
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)
DEMO_SEED = 2026  # not the training set's seed (13): these texts are new to the model


def seed_demo_inbox(base_url: str, settings: Settings, *, count: int) -> int:
    """Post `count` demo tickets, half English and half Chinese, unless a ticket is stored already;
    returns how many were accepted (idempotent: each has a fixed event id)."""
    if count <= 0:
        return 0
    engine = build_engine(settings.database_url)
    try:
        with session_scope(build_session_factory(engine)) as session:
            if session.scalar(select(func.count(Ticket.id))):
                return 0
    finally:
        engine.dispose()
    from services.trainer.demo_data import generate_tickets

    english = generate_tickets(per_intent=1, seed=DEMO_SEED, languages=("en",))
    chinese = generate_tickets(per_intent=1, seed=DEMO_SEED, languages=("zh",))
    tickets = [t for pair in zip(english, chinese, strict=False) for t in pair][:count]
    accepted = 0
    for index, ticket in enumerate(tickets):
        payload = ticket_payload(
            ticket.body,
            subject=ticket.subject,
            event_id=f"demo-inbox-{index}",
            customer_email=ticket.customer_email,
        )
        try:
            response = post_signed(base_url, payload, settings.webhook_secrets[0])
        except requests.RequestException as exc:
            log.warning("demo inbox: ticket %d not posted: %s", index, exc)
            continue
        accepted += response.status_code in (200, 202)
    log.info("demo inbox: %d of %d demo tickets accepted", accepted, len(tickets))
    return accepted
