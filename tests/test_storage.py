"""Storage on SQLite and PostgreSQL: migrations match the models, idempotent intake, one result per model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from services.gateway.tickets.service import QueueUnavailable, get_ticket_view, ingest_ticket
from shared.db import (
    Base,
    Ticket,
    TicketStatus,
    TriageResult,
    build_engine,
    build_session_factory,
    session_scope,
    upgrade_database,
)
from shared.db.engine import current_revision
from shared.schemas import TicketIn


def ticket_in(body: str = "where is my parcel?") -> TicketIn:
    return TicketIn.model_validate(
        {
            "external_id": "Z-1",
            "subject": "Order",
            "body": body,
            "customer": {"id": "c1", "email": "a@example.com", "name": "A"},
            "channel": "email",
            "created_at": "2026-11-28T10:00:00+01:00",
        }
    )


@pytest.fixture
def engine(database_url: str) -> Engine:
    upgrade_database(database_url)
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == "0006"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(database_url: str, engine: Engine) -> None:
    upgrade_database(database_url)
    assert current_revision(engine) == "0006"


def test_ingest_stores_once_and_enqueues_once(engine: Engine) -> None:
    factory = build_session_factory(engine)
    enqueued: list[str] = []
    first = ingest_ticket(
        session_factory=factory, enqueue=enqueued.append, source="generic", event_id="e1", ticket=ticket_in()
    )
    again = ingest_ticket(
        session_factory=factory, enqueue=enqueued.append, source="generic", event_id="e1", ticket=ticket_in()
    )
    other_source = ingest_ticket(
        session_factory=factory, enqueue=enqueued.append, source="api", event_id="e1", ticket=ticket_in()
    )
    assert first.created and not again.created and other_source.created
    assert again.ticket_id == first.ticket_id
    assert enqueued == [first.ticket_id, other_source.ticket_id]
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2
        stored = session.get(Ticket, first.ticket_id)
        assert stored.status == TicketStatus.QUEUED
        assert stored.created_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
        assert stored.queued_at is not None and stored.queued_at.tzinfo is not None


def test_ticket_is_committed_before_it_is_enqueued(engine: Engine) -> None:
    factory = build_session_factory(engine)
    seen: list[str] = []

    def enqueue(ticket_id: str) -> None:
        with session_scope(build_session_factory(build_engine(str(engine.url)))) as other:
            seen.append(other.get(Ticket, ticket_id).status)

    ingest_ticket(
        session_factory=factory, enqueue=enqueue, source="generic", event_id="e2", ticket=ticket_in()
    )
    assert seen == [TicketStatus.RECEIVED]


def test_failed_enqueue_keeps_ticket_and_a_replay_enqueues_it(engine: Engine) -> None:
    factory = build_session_factory(engine)

    def broken(_: str) -> None:
        raise ConnectionError("redis down")

    with pytest.raises(QueueUnavailable) as caught:
        ingest_ticket(
            session_factory=factory, enqueue=broken, source="generic", event_id="e3", ticket=ticket_in()
        )
    view = get_ticket_view(session_factory=factory, ticket_id=caught.value.ticket_id)
    assert view.status == "received" and "redis down" in view.failure_reason
    enqueued: list[str] = []
    replay = ingest_ticket(
        session_factory=factory, enqueue=enqueued.append, source="generic", event_id="e3", ticket=ticket_in()
    )
    assert enqueued == [caught.value.ticket_id] and replay.status == "queued"
    assert get_ticket_view(session_factory=factory, ticket_id=replay.ticket_id).failure_reason is None


def test_one_result_per_ticket_and_model_version(engine: Engine) -> None:
    factory = build_session_factory(engine)
    result = ingest_ticket(
        session_factory=factory, enqueue=lambda _: None, source="generic", event_id="e4", ticket=ticket_in()
    )

    def add(version: str) -> None:
        with session_scope(factory) as session:
            session.add(
                TriageResult(
                    ticket_id=result.ticket_id,
                    model_version=version,
                    label="x",
                    confidence=0.9,
                    top_k=[["x", 0.9]],
                    inference_ms=1.0,
                )
            )

    add("v1")
    add("v2")
    with pytest.raises(IntegrityError):
        add("v1")
    view = get_ticket_view(session_factory=factory, ticket_id=result.ticket_id)
    assert view.classification.model_version == "v2"


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    factory = build_session_factory(engine)
    with pytest.raises(Exception, match="naive"), session_scope(factory) as session:
        session.add(
            Ticket(
                source="s",
                event_id="e",
                external_id="x",
                subject="",
                body="b",
                channel="email",
                created_at=datetime.now() - timedelta(days=1),
            )
        )
