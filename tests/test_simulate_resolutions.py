"""`helploop simulate-resolutions`: its tickets reach the workers like any ticket (published, not just
stored), each its own customer per seed, and each resolution carries the agent's reply and final intent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from helploop.cli.learning import _resolve, _store
from services.trainer.demo_replies import DemoResolution
from shared.celery_app import TASK_CLASSIFY
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.models import Resolution
from shared.tickets.models import Ticket


def test_a_simulated_ticket_is_published_to_triage_and_resolved_with_the_reply(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    published: list[tuple[str, list[Any]]] = []
    resolution = DemoResolution(
        "Where is my parcel?\n\nOrder NW-12345 has not come.",
        "where_is_my_order",
        "en",
        "Ana Lee",
        [],
        "Hi Ana,\n\nI've noted your order NW-12345.",
        True,
    )
    now = datetime.now(UTC)
    ids = [
        _store(
            factory,
            lambda task, args: published.append((task, args)),
            resolution,
            external_id=e,
            index=0,
            start=now,
        )
        for e in ("sim-91-0", "sim-92-0")
    ]
    assert published == [(TASK_CLASSIFY, [ids[0]]), (TASK_CLASSIFY, [ids[1]])]  # sent, not only stored
    _resolve(factory, resolution, ids[1], at=now)
    with session_scope(factory) as session:
        customers = {session.get(Ticket, i).customer_id for i in ids}  # type: ignore[union-attr]
        assert customers == {"sim-91-0", "sim-92-0"}  # two seeds never share a customer's history
        stored = session.query(Resolution).filter_by(ticket_id=ids[1]).one()
        assert stored.reply == resolution.reply and stored.final_labels == {"label": "where_is_my_order"}
