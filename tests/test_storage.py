"""Storage on SQLite and PostgreSQL: migrations match the models, idempotent intake, one result per model."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.tickets.service import get_ticket_view, ingest_ticket
from shared.celery_app import QUEUE_TRIAGE, TASK_CLASSIFY
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.db.base import utcnow
from shared.db.engine import current_revision
from shared.db.tables import metadata
from shared.outbox.models import Lease, OutboxMessage
from shared.outbox.relay import OutboxRelay
from shared.outbox.service import add_message, count_pending, hold_lease, purge_sent, relay_pending
from shared.tickets.models import Ticket, TicketStatus, TriageResult
from shared.tickets.schemas import TicketIn


def ticket_in(body: str = "where is my parcel?", external_id: str = "Z-1") -> TicketIn:
    return TicketIn.model_validate(
        {
            "external_id": external_id,
            "subject": "Order",
            "body": body,
            "customer": {"id": "c1", "email": "a@example.com", "name": "A"},
            "channel": "email",
            "created_at": "2026-11-28T10:00:00+01:00",
        }
    )


def stored_ticket(factory: sessionmaker[Session], body: str, external_id: str = "Z-1") -> str:
    """A ticket accepted through the service (nothing published), its id."""
    ticket = ticket_in(body=body, external_id=external_id)
    return ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="api", event_id=external_id, ticket=ticket
    ).ticket_id


def classified_ticket(
    factory: sessionmaker[Session],
    body: str,
    external_id: str,
    *,
    label: str = "where_is_my_order",
    confidence: float = 0.9,
    out_of_scope: bool = False,
    language: str | None = "en",
) -> str:
    """A stored ticket with one classification (model "m1"), its id."""
    ticket_id = stored_ticket(factory, body, external_id=external_id)
    with session_scope(factory) as session:
        session.add(
            TriageResult(
                ticket_id=ticket_id,
                model_version="m1",
                label=label,
                confidence=confidence,
                out_of_scope=out_of_scope,
                language=language,
                top_k=[],
                inference_ms=1.0,
            )
        )
    return ticket_id


@pytest.fixture
def engine(database_url: str) -> Engine:
    upgrade_database(database_url)
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == "0012"
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(database_url: str, engine: Engine) -> None:
    upgrade_database(database_url)
    assert current_revision(engine) == "0012"


class Broker:
    """Records what is published; `down` makes it refuse like an unreachable Redis."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.down = False

    def __call__(self, task: str, args: list) -> None:
        if self.down:
            raise ConnectionError("redis down")
        assert task == TASK_CLASSIFY
        self.published.append(args[0])


def test_ingest_stores_once_and_enqueues_once(engine: Engine) -> None:
    factory = build_session_factory(engine)
    broker = Broker()
    first = ingest_ticket(
        session_factory=factory, publish=broker, source="generic", event_id="e1", ticket=ticket_in()
    )
    again = ingest_ticket(
        session_factory=factory, publish=broker, source="generic", event_id="e1", ticket=ticket_in()
    )
    other_source = ingest_ticket(
        session_factory=factory, publish=broker, source="api", event_id="e1", ticket=ticket_in()
    )
    assert first.created and not again.created and other_source.created
    assert again.ticket_id == first.ticket_id
    assert broker.published == [first.ticket_id, other_source.ticket_id]
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2
        stored = session.get(Ticket, first.ticket_id)
        assert stored.status == TicketStatus.QUEUED
        assert stored.created_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
        assert stored.queued_at is not None and stored.queued_at.tzinfo is not None
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m.args for m in messages] == [[first.ticket_id], [other_source.ticket_id]]
        assert all(m.sent_at is not None and m.attempts == 1 for m in messages)


def test_ticket_and_its_message_are_committed_before_publishing(engine: Engine) -> None:
    factory = build_session_factory(engine)
    seen: list[tuple[str, int]] = []

    def publish(task: str, args: list) -> None:
        with session_scope(build_session_factory(build_engine(str(engine.url)))) as other:
            pending = other.scalar(select(func.count()).select_from(OutboxMessage))
            seen.append((other.get(Ticket, args[0]).status, pending))

    ingest_ticket(
        session_factory=factory, publish=publish, source="generic", event_id="e2", ticket=ticket_in()
    )
    assert seen == [(TicketStatus.RECEIVED, 1)]


def test_broker_down_accepts_the_ticket_and_the_relay_drains_the_backlog_in_order(engine: Engine) -> None:
    factory = build_session_factory(engine)
    broker = Broker()
    broker.down = True
    woken: list[int] = []
    accepted = [
        ingest_ticket(
            session_factory=factory,
            publish=broker,
            source="generic",
            event_id=f"down-{i}",
            ticket=ticket_in(),
            on_left_pending=lambda: woken.append(1),
        )
        for i in range(5)
    ]
    assert all(a.created and a.status == "received" for a in accepted) and len(woken) == 5
    relay = OutboxRelay(session_factory=factory, publish=broker, batch=2)
    assert relay.run_once() is True and broker.published == []  # still down: nothing lost, nothing sent
    assert count_pending(session_factory=factory) == 5
    broker.down = False
    with session_scope(factory) as session:  # the backlog is older than the intake's grace now
        session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(seconds=5)))
    late = ingest_ticket(
        session_factory=factory, publish=broker, source="generic", event_id="late", ticket=ticket_in()
    )
    assert late.status == "received" and broker.published == []  # queues up behind the backlog
    assert relay.run_once() is False
    assert broker.published == [a.ticket_id for a in accepted] + [late.ticket_id]
    assert count_pending(session_factory=factory) == 0
    views = [get_ticket_view(session_factory=factory, ticket_id=t) for t in broker.published]
    assert {v.status for v in views} == {"queued"}


def test_an_idle_relay_pass_only_reads_and_a_waiting_message_still_goes_out(engine: Engine) -> None:
    """Nothing free to publish (the intake sent its own): the pass writes nothing — no lease taken, no
    claim — once its first pass (which purges) is done; a message staged without a claim (a resolution's
    label fetch) goes out on the next pass."""
    from sqlalchemy import event

    factory = build_session_factory(engine)
    broker = Broker()
    relay = OutboxRelay(session_factory=factory, publish=broker)
    assert relay.run_once() is False  # the first pass: the purge is due, the lease taken
    writes: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert relay.run_once() is False and writes == []
        with session_scope(factory) as session:
            add_message(session, task=TASK_CLASSIFY, args=["t-idle"])
        writes.clear()
        assert relay.run_once() is False and broker.published == ["t-idle"] and writes
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert count_pending(session_factory=factory) == 0


def test_only_the_lease_holder_relays_and_a_dead_holder_is_replaced(engine: Engine) -> None:
    factory = build_session_factory(engine)
    assert hold_lease(session_factory=factory, name="relay", holder="a", ttl_s=30)
    assert hold_lease(session_factory=factory, name="relay", holder="a", ttl_s=30)  # renewal
    assert not hold_lease(session_factory=factory, name="relay", holder="b", ttl_s=30)
    with session_scope(factory) as session:
        session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert hold_lease(session_factory=factory, name="relay", holder="b", ttl_s=30)
    assert not hold_lease(session_factory=factory, name="relay", holder="a", ttl_s=30)


def test_a_claim_left_by_a_crashed_publisher_expires(engine: Engine) -> None:
    factory = build_session_factory(engine)
    with session_scope(factory) as session:
        message = add_message(session, task=TASK_CLASSIFY, args=["t-1"], queue=QUEUE_TRIAGE, claim=True)
    assert message.claim is not None  # the intake that claimed it died before publishing
    broker = Broker()
    assert relay_pending(session_factory=factory, publish=broker).claimed == 0
    with session_scope(factory) as session:
        session.execute(update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1)))
    assert relay_pending(session_factory=factory, publish=broker).sent == 1 and broker.published == ["t-1"]
    assert purge_sent(session_factory=factory, older_than_s=3600) == 0
    assert purge_sent(session_factory=factory, older_than_s=0) == 1


def test_one_result_per_ticket_and_model_version(engine: Engine) -> None:
    factory = build_session_factory(engine)
    result = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="generic", event_id="e4", ticket=ticket_in()
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


def _commits(engine: Engine) -> list[int]:
    from sqlalchemy import event

    seen: list[int] = []
    event.listen(engine, "commit", lambda _conn: seen.append(1))
    return seen


def test_the_relay_marks_what_requests_published_in_one_commit_and_lost_marks_are_published_again(
    engine: Engine,
) -> None:
    """With a relay's `SentLog` a request commits once and publishes; the relay's flush marks them all sent
    (tickets queued) in one transaction. Marks lost with their process leave the messages claimed, and the
    relay publishes them again once the claims end: at least once, never lost."""
    factory, broker = build_session_factory(engine), Broker()
    relay = OutboxRelay(session_factory=factory, publish=broker)
    accept = partial(
        ingest_ticket, session_factory=factory, publish=broker, source="generic", sent=relay.sent
    )
    commits = _commits(engine)
    accepted = [accept(event_id=f"fast-{i}", ticket=ticket_in()) for i in range(4)]
    assert len(commits) == 4 and {a.status for a in accepted} == {"queued"}
    assert broker.published == [a.ticket_id for a in accepted] and len(relay.sent) == 4
    assert count_pending(session_factory=factory) == 4  # published, not marked yet: claimed
    assert relay.run_once() is False and len(broker.published) == 4  # so no relay sends them twice
    commits.clear()
    assert relay.flush_sent() == 4 and len(commits) == 1 and count_pending(session_factory=factory) == 0
    views = [get_ticket_view(session_factory=factory, ticket_id=a.ticket_id) for a in accepted]
    assert {v.status for v in views} == {"queued"}
    lost = accept(event_id="lost", ticket=ticket_in())
    relay.sent.take()  # the process died before its flush
    with session_scope(factory) as session:  # ... and its claim ran out
        session.execute(update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1)))
    assert relay.run_once() is False and broker.published[-2:] == [lost.ticket_id] * 2
    assert count_pending(session_factory=factory) == 0


def test_a_failed_flush_keeps_its_marks_and_the_running_relay_flushes_within_its_window(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.outbox import relay as relay_module

    factory, broker = build_session_factory(engine), Broker()
    relay = OutboxRelay(session_factory=factory, publish=broker, interval_s=60, flush_window_s=0.05)
    accept = partial(
        ingest_ticket, session_factory=factory, publish=broker, source="generic", sent=relay.sent
    )
    accept(event_id="first", ticket=ticket_in())

    def database_away(**_: object) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr(relay_module, "mark_sent", database_away)
    assert relay.flush_sent() == 0 and len(relay.sent) == 1
    assert 0.5 < (relay.sent.wait_left(relay.flush_window_s) or 0) <= relay_module.FLUSH_RETRY_S + 0.05
    monkeypatch.undo()
    relay.start()
    try:
        accept(event_id="second", ticket=ticket_in())
        deadline = time.monotonic() + 5  # the second is due in 0.05 s, the first after its retry
        while count_pending(session_factory=factory) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert count_pending(session_factory=factory) == 0 and len(relay.sent) == 0
        accept(event_id="third", ticket=ticket_in())
    finally:
        relay.stop()  # stopping flushes what is left
    assert count_pending(session_factory=factory) == 0 and len(broker.published) == 3


def test_a_relay_that_saw_no_backlog_lets_the_intake_skip_its_check_until_something_waits(
    engine: Engine,
) -> None:
    factory, broker = build_session_factory(engine), Broker()
    relay = OutboxRelay(session_factory=factory, publish=broker, interval_s=30)
    relay.run_once()  # the first pass purges; the next only reads
    assert relay.no_backlog() is False and relay.run_once() is False and relay.no_backlog() is True
    relay.wake()  # a request left a message pending
    assert relay.no_backlog() is False
    broker.down = True
    accept = partial(ingest_ticket, session_factory=factory, publish=broker, source="generic")
    assert accept(event_id="W-1", ticket=ticket_in()).status == "received"  # not published: it waits
    assert relay.run_once() is True and relay.no_backlog() is False  # the broker still refuses it
    broker.down = False
    assert relay.run_once() is False and relay.no_backlog() is False  # drained: the next pass tells
    assert relay.run_once() is False and relay.no_backlog() is True
