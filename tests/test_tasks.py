"""The Celery task wrapper: retries on failure, then marks the ticket failed with the reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from services.gateway.tickets.service import get_ticket_view, ingest_ticket
from services.inference import context as worker_context_module
from services.inference.context import WorkerContext, warm_up
from services.inference.microbatch import DirectPredictor
from services.inference.sweeper import requeue_stale, requeue_unrouted
from services.inference.tasks import classify
from services.inference.triage import Outcome, TriageContext, classify_ticket
from services.inference.worker import create_worker_app
from shared.celery_app import QUEUE_SHADOW_DRAFTS, QUEUE_TRIAGE, TASK_CLASSIFY, TASK_SHADOW_DRAFT
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.db.base import utcnow
from shared.process_local import ProcessLocal
from shared.registry import Registry
from shared.routing.models import RoutingDecision
from shared.settings import load_settings
from shared.tickets.models import Ticket, TicketStatus, TriageResult
from tests.conftest import settings_overrides
from tests.test_storage import ticket_in


class ExplodingModel:
    def __init__(self) -> None:
        self.calls = 0

    def get(self):  # type: ignore[no-untyped-def]
        self.calls += 1
        raise RuntimeError("model crashed on this input")


def test_task_routes_to_the_triage_queue() -> None:
    app = create_worker_app(load_settings(**settings_overrides()))
    assert app.amqp.router.route({}, TASK_CLASSIFY)["queue"].name == QUEUE_TRIAGE
    assert classify.acks_late and classify.reject_on_worker_lost


def test_enqueue_takes_every_tasks_queue_from_the_routes_table() -> None:
    from shared.celery_app import ROUTES, enqueue

    sent: list[tuple[str, list[object], str, bool]] = []

    class App:
        def send_task(self, name: str, *, args: list[object], queue: str, ignore_result: bool) -> None:
            sent.append((name, args, queue, ignore_result))

    for task in ROUTES:
        enqueue(App(), task, "t1", 2)  # type: ignore[arg-type]
    assert sent == [(task, ["t1", 2], route["queue"], True) for task, route in ROUTES.items()]
    app = create_worker_app(load_settings(**settings_overrides()))
    assert all(
        app.amqp.router.route({}, task)["queue"].name == route["queue"] for task, route in ROUTES.items()
    )


@pytest.mark.parametrize("shadow", [None, "g2"])
def test_a_drafted_ticket_is_drafted_again_in_shadow_only_while_a_generator_is_in_shadow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shadow: str | None
) -> None:
    from services.inference import draft_tasks, pipeline
    from services.inference.drafting import DraftOutcome
    from services.inference.shadow_drafting import ShadowDraftContext

    app = create_worker_app(load_settings(**settings_overrides()))
    assert app.amqp.router.route({}, TASK_SHADOW_DRAFT)["queue"].name == QUEUE_SHADOW_DRAFTS
    registry = Registry(tmp_path)
    monkeypatch.setattr(registry, "shadow_version", lambda: shadow)
    context = type("C", (), {"drafts": None, "shadow_drafts": ShadowDraftContext(None, registry, None)})()  # type: ignore[arg-type]
    monkeypatch.setattr(draft_tasks, "worker_context", lambda: context)
    monkeypatch.setattr(draft_tasks, "draft_reply", lambda **_: DraftOutcome.DRAFTED)
    monkeypatch.setattr(pipeline, "route_and_write_back", lambda *_: None)
    sent: list[tuple[str, list[str], str]] = []
    monkeypatch.setattr(
        draft_tasks.generate_draft.app,
        "send_task",
        lambda name, args, queue, **_: sent.append((name, args, queue)),
    )
    assert draft_tasks.generate_draft.apply(args=["t1"]).get() == DraftOutcome.DRAFTED
    assert sent == ([(TASK_SHADOW_DRAFT, ["t1"], QUEUE_SHADOW_DRAFTS)] if shadow else [])


def test_task_retries_then_marks_failed(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_database(sqlite_url)
    settings = load_settings(**settings_overrides(database_url=sqlite_url, triage_max_retries=2))
    app = create_worker_app(settings)
    app.conf.task_always_eager = True
    factory = build_session_factory(build_engine(sqlite_url))
    model = ExplodingModel()
    triage = TriageContext(session_factory=factory, model=model)  # type: ignore[arg-type]
    context = WorkerContext(
        settings=settings,
        triage=triage,
        knowledge=None,  # type: ignore[arg-type]
        drafts=None,  # type: ignore[arg-type]
        routing=None,  # type: ignore[arg-type]
        writeback=None,  # type: ignore[arg-type]
        batch=None,  # type: ignore[arg-type]
        shadow=None,  # type: ignore[arg-type]
        shadow_drafts=None,  # type: ignore[arg-type]
        media=None,  # type: ignore[arg-type]
    )
    monkeypatch.setattr(worker_context_module, "_context", ProcessLocal.holding(context))
    accepted = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="generic", event_id="t1", ticket=ticket_in()
    )
    classify.apply(args=[accepted.ticket_id])
    assert model.calls == 3  # the first try and two retries
    view = get_ticket_view(session_factory=factory, ticket_id=accepted.ticket_id)
    assert view.status == "failed"
    assert view.failure_reason == "RuntimeError: model crashed on this input"


def test_sweeper_requeues_only_tickets_waiting_too_long(database_url: str) -> None:
    upgrade_database(database_url)
    factory = build_session_factory(build_engine(database_url))
    ids = [
        ingest_ticket(
            session_factory=factory,
            publish=lambda *_: None,
            source="generic",
            event_id=f"s{i}",
            ticket=ticket_in(),
        ).ticket_id
        for i in range(3)
    ]
    stale, fresh, done = ids
    long_ago = utcnow() - timedelta(hours=1)
    with session_scope(factory) as session:
        session.execute(update(Ticket).where(Ticket.id.in_([stale, done])).values(queued_at=long_ago))
        session.execute(update(Ticket).where(Ticket.id == done).values(status=TicketStatus.TRIAGED))
    sent: list[str] = []
    assert requeue_stale(session_factory=factory, enqueue=sent.append, stale_after_s=600) == [stale]
    assert sent == [stale] and fresh not in sent
    assert requeue_stale(session_factory=factory, enqueue=sent.append, stale_after_s=600) == []  # re-stamped
    assert get_ticket_view(session_factory=factory, ticket_id=stale).status == "queued"


class Recording:
    def __init__(self, name: str) -> None:
        self.name, self.calls = name, 0

    def get(self):  # type: ignore[no-untyped-def]
        self.calls += 1
        return type("Loaded", (), {"version": self.name})()


@pytest.mark.parametrize(
    ("queues", "loaded"),
    [
        (["triage", "kb"], {"classifier", "encoder"}),
        (["drafts"], {"encoder", "generator"}),
        (["triage", "kb", "drafts"], {"classifier", "encoder", "generator"}),
        (["shadow_drafts"], set()),  # loads with its first task: idle while no generator is in shadow
    ],
)
def test_warm_up_loads_only_what_the_served_queues_need(
    monkeypatch: pytest.MonkeyPatch, queues: list[str], loaded: set[str]
) -> None:
    fakes = {name: Recording(name) for name in ("classifier", "encoder", "generator")}
    context = WorkerContext(
        settings=load_settings(**settings_overrides()),
        triage=type("T", (), {"model": fakes["classifier"]})(),  # type: ignore[arg-type]
        knowledge=type("K", (), {"encoder": fakes["encoder"]})(),  # type: ignore[arg-type]
        drafts=type("D", (), {"generator": fakes["generator"]})(),  # type: ignore[arg-type]
        routing=None,  # type: ignore[arg-type]
        writeback=None,  # type: ignore[arg-type]
        batch=None,  # type: ignore[arg-type]
        shadow=None,  # type: ignore[arg-type]
        shadow_drafts=None,  # type: ignore[arg-type]
        media=None,  # type: ignore[arg-type]
    )
    monkeypatch.setattr(worker_context_module, "_context", ProcessLocal.holding(context))
    warm_up(queues)
    assert {name for name, fake in fakes.items() if fake.calls} == loaded


class DyingPredictor(DirectPredictor):
    """Stands for a crash inside the model (the process would die here)."""

    def predict(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise SystemExit("worker died in the model")


def test_a_ticket_whose_runs_never_finish_is_failed_after_its_attempts(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    accepted = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="generic", event_id="p1", ticket=ticket_in()
    )
    model = Recording("v1")
    context = TriageContext(
        session_factory=factory,
        model=model,  # type: ignore[arg-type]
        predictor=DyingPredictor(),
        max_attempts=3,
    )
    for _ in range(3):
        with pytest.raises(SystemExit):
            classify_ticket(ticket_id=accepted.ticket_id, context=context)
    assert classify_ticket(ticket_id=accepted.ticket_id, context=context) == Outcome.GAVE_UP
    view = get_ticket_view(session_factory=factory, ticket_id=accepted.ticket_id)
    assert view.status == "failed"
    assert view.failure_reason.startswith("gave up after 3 attempts that never finished")


def test_a_first_delivery_reads_only_and_the_redelivery_after_a_crash_counts(sqlite_url: str) -> None:
    """The first delivery of a message writes nothing before the model runs (one write transaction per
    ticket); the broker flags the message it brings back after a crash, and those runs are counted, so a
    poison ticket is still failed — one crash later."""
    from services.inference.triage import triage_ticket

    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    accepted = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="generic", event_id="p2", ticket=ticket_in()
    )
    dying = TriageContext(
        session_factory=factory,
        model=Recording("v1"),  # type: ignore[arg-type]
        predictor=DyingPredictor(),
        max_attempts=2,
    )

    def attempts() -> int:
        with session_scope(factory) as session:
            return session.get(Ticket, accepted.ticket_id).triage_attempts

    with pytest.raises(SystemExit):
        triage_ticket(ticket_id=accepted.ticket_id, context=dying, first_delivery=True)
    assert attempts() == 0
    for expected in (1, 2):
        with pytest.raises(SystemExit):
            triage_ticket(ticket_id=accepted.ticket_id, context=dying)  # redelivered
        assert attempts() == expected
    assert triage_ticket(ticket_id=accepted.ticket_id, context=dying).outcome == Outcome.GAVE_UP


def test_the_classify_task_counts_only_redelivered_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.inference import tasks
    from services.inference.triage import Triaged

    seen: list[bool] = []

    def fake_triage(*, ticket_id: str, context: object, first_delivery: bool) -> Triaged:
        seen.append(first_delivery)
        return Triaged(Outcome.ALREADY_DONE)

    context = SimpleNamespace(triage=None, settings=SimpleNamespace(triage_max_retries=1))
    monkeypatch.setattr(tasks, "worker_context", lambda: context)
    monkeypatch.setattr(tasks, "triage_ticket", fake_triage)
    monkeypatch.setattr(tasks, "after_classification", lambda *args: None)
    for info in (None, {"redelivered": False}, {"redelivered": True}):
        tasks.classify.push_request(delivery_info=info, retries=0)
        try:
            tasks.classify.run("t1")
        finally:
            tasks.classify.pop_request()
    assert seen == [True, True, False]


def test_sweeper_requeues_recently_triaged_tickets_that_were_never_routed(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    ids = [
        ingest_ticket(
            session_factory=factory,
            publish=lambda *_: None,
            source="generic",
            event_id=f"u{i}",
            ticket=ticket_in(),
        ).ticket_id
        for i in range(4)
    ]
    unrouted, routed, ancient, fresh = ids
    hour_ago, two_days_ago = utcnow() - timedelta(hours=1), utcnow() - timedelta(days=2)
    with session_scope(factory) as session:
        for ticket_id, when in (
            (unrouted, hour_ago),
            (routed, hour_ago),
            (ancient, two_days_ago),
            (fresh, utcnow()),
        ):
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(status=TicketStatus.TRIAGED, triaged_at=when)
            )
        result = TriageResult(
            ticket_id=routed, model_version="v1", label="x", confidence=0.9, top_k=[], inference_ms=1.0
        )
        session.add(result)
        session.flush()
        session.add(
            RoutingDecision(
                ticket_id=routed,
                key=f"{result.id}:0",
                triage_result_id=result.id,
                route="draft",
                queue="general",
                reasons=[],
                policy_version=1,
            )
        )
    sent: list[str] = []
    assert requeue_unrouted(session_factory=factory, enqueue=sent.append, stale_after_s=600) == [unrouted]
    assert sent == [unrouted]
