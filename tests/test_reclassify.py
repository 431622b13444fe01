"""Batch reclassification chunks, shadow predictions and live accuracy, as plain functions on real models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.tickets.service import ingest_ticket
from services.inference.model_holder import ActiveModel, ClassifierVersions
from services.inference.reclassify import BatchContext, reclassify_chunk
from services.inference.shadow import ShadowContext, ShadowOutcome, shadow_classify
from services.inference.triage import TriageContext, classify_ticket
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.learning import jobs
from shared.learning.models import JobChunk
from shared.learning.reports import live_accuracy, shadow_report
from shared.registry import Registry
from shared.tickets.models import TriageResult
from tests.learning_data import clone_version, copy_active, store_tickets
from tests.test_storage import ticket_in

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def factory(sqlite_url: str) -> sessionmaker[Session]:
    upgrade_database(sqlite_url)
    return build_session_factory(build_engine(sqlite_url))


@pytest.fixture
def registry(trained_registry: Registry, tmp_path: Path) -> Registry:
    registry = copy_active(trained_registry, tmp_path / "models")
    clone_version(registry, registry.active_version(), "v-next")
    return registry


def results_of(factory: sessionmaker[Session], version: str) -> int:
    with session_scope(factory) as session:
        query = select(func.count()).select_from(TriageResult).where(TriageResult.model_version == version)
        return session.scalar(query)


def test_chunks_are_done_once_and_the_job_completes(factory, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    store_tickets(factory, ["too early"], received_at=T0 - timedelta(days=1))
    store_tickets(factory, [f"where is my parcel number {i}?" for i in range(230)], received_at=T0)
    job = jobs.create_reclassify_job(
        session_factory=factory, since=T0, until=None, model_version="v-next", chunk_size=100
    )
    assert (job.total_items, job.total_chunks, job.progress) == (230, 3, 0.0)
    context = BatchContext(factory, ClassifierVersions(registry), batch_size=16)
    first = reclassify_chunk(job_id=job.id, position=0, context=context)
    assert first is not None and (first.processed, first.skipped, first.job_done) == (100, 0, False)
    assert reclassify_chunk(job_id=job.id, position=0, context=context) is None  # a redelivery: skipped
    assert jobs.pending_chunks(session_factory=factory, job_id=job.id) == [1, 2]
    view = jobs.get_job(session_factory=factory, job_id=job.id)
    assert (view.done_chunks, view.processed_items, view.status) == (1, 100, "running")
    for position in (2, 1):
        outcome = reclassify_chunk(job_id=job.id, position=position, context=context)
    assert outcome is not None and outcome.job_done
    view = jobs.get_job(session_factory=factory, job_id=job.id)
    assert (view.status, view.progress, view.processed_items) == ("done", 1.0, 230)
    assert results_of(factory, "v-next") == 230
    with session_scope(factory) as session:
        assert session.scalars(select(JobChunk.attempts)).all() == [1, 1, 1]


def test_a_worker_dying_before_the_chunk_completes_leaves_no_result_and_the_redo_counts_them_all(
    factory, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The results and the chunk's completion commit together: a worker killed between them (here the
    completion raises) stores nothing, and the redelivered chunk reclassifies and counts every ticket —
    stored apart, the redo would find them done and the job would end with fewer items processed."""
    import services.inference.reclassify as reclassify

    store_tickets(factory, [f"my card was declined, attempt {i}" for i in range(6)], received_at=T0)
    job = jobs.create_reclassify_job(
        session_factory=factory, since=T0, until=None, model_version="v-next", chunk_size=6
    )
    context = BatchContext(factory, ClassifierVersions(registry))

    def killed(*_args: object, **_kwargs: object) -> bool:
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(reclassify, "complete_chunk", killed)
        with pytest.raises(SystemExit):
            reclassify_chunk(job_id=job.id, position=0, context=context)
    assert results_of(factory, "v-next") == 0
    outcome = reclassify_chunk(job_id=job.id, position=0, context=context)
    assert outcome is not None and (outcome.processed, outcome.skipped, outcome.job_done) == (6, 0, True)
    view = jobs.get_job(session_factory=factory, job_id=job.id)
    assert (view.status, view.processed_items) == ("done", 6)


def test_a_ticket_already_reclassified_is_skipped_and_an_empty_range_is_refused(
    factory, registry: Registry
) -> None:  # type: ignore[no-untyped-def]
    store_tickets(factory, ["refund please", "parcel late"], received_at=T0)
    context = BatchContext(factory, ClassifierVersions(registry))
    for _ in range(2):  # the second job finds both tickets done by the first
        job = jobs.create_reclassify_job(
            session_factory=factory,
            since=T0,
            until=T0 + timedelta(days=1),
            model_version="v-next",
            chunk_size=10,
        )
        outcome = reclassify_chunk(job_id=job.id, position=0, context=context)
    assert outcome is not None and (outcome.processed, outcome.skipped) == (0, 2)
    assert results_of(factory, "v-next") == 2
    with pytest.raises(jobs.EmptyJob):
        jobs.create_reclassify_job(
            session_factory=factory,
            since=T0 + timedelta(days=2),
            until=None,
            model_version="v-next",
            chunk_size=10,
        )


def test_shadow_predictions_and_the_shadow_report(factory, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    from services.gateway.feedback.service import record_resolution

    triage = TriageContext(session_factory=factory, model=ActiveModel(registry))
    shadow = ShadowContext(factory, registry, ClassifierVersions(registry))
    texts = [
        "My parcel never arrived, where is it?",
        "I want a refund for my broken kettle",
        "Great service!",
    ]
    ids = [
        ingest_ticket(
            session_factory=factory,
            publish=lambda *_: None,
            source="api",
            event_id=f"s{i}",
            ticket=ticket_in(t),
        ).ticket_id
        for i, t in enumerate(texts)
    ]
    assert shadow_classify(ticket_id=ids[0], context=shadow) == ShadowOutcome.NO_SHADOW
    registry.set_shadow("v-next")
    assert shadow_classify(ticket_id=ids[0], context=shadow) == ShadowOutcome.NOT_TRIAGED
    for ticket_id in ids:
        classify_ticket(ticket_id=ticket_id, context=triage)
        assert shadow_classify(ticket_id=ticket_id, context=shadow) == ShadowOutcome.STORED
    assert shadow_classify(ticket_id=ids[0], context=shadow) == ShadowOutcome.ALREADY_DONE
    with session_scope(factory) as session:  # the agent confirms the first prediction, corrects the second
        confirmed = session.scalars(select(TriageResult.label).where(TriageResult.ticket_id == ids[0])).one()
    for ticket_id, final in ((ids[0], confirmed), (ids[1], "a_new_intent")):  # no model knows the second
        record_resolution(
            session_factory=factory,
            source="api",
            ticket_id=ticket_id,
            final_labels={"label": final},
            reply=None,
        )
    report = shadow_report(session_factory=factory, version="v-next")
    assert (report["predictions"], report["agreement"], report["labelled"]) == (3, 1.0, 2)  # same weights
    assert report["shadow_accuracy"] == report["active_accuracy"] == 0.5
    assert report["per_intent"]["a_new_intent"] == {"n": 1, "shadow_accuracy": 0.0, "active_accuracy": 0.0}
    accuracy = live_accuracy(session_factory=factory, version=registry.active_version(), window_days=7)
    assert (accuracy["resolved"], accuracy["accuracy"]) == (2, 0.5)
    assert accuracy["per_intent"][confirmed] == {"n": 1, "accuracy": 1.0}
    assert live_accuracy(session_factory=factory, version="v-next", window_days=7)["resolved"] == 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_chunks_completing_at_once_finish_the_job_exactly_once(database_url: str) -> None:
    """The last chunks of a job completed concurrently (two workers), each in one transaction with the job:
    neither misses the other's chunk (the job is done), and exactly one of them finished it."""
    import threading

    upgrade_database(database_url)
    factory = build_session_factory(build_engine(database_url))
    store_tickets(factory, [f"ticket {i}" for i in range(4)], received_at=T0)
    for _ in range(5):
        job = jobs.create_reclassify_job(
            session_factory=factory, since=T0, until=None, model_version="v-x", chunk_size=2
        )
        barrier, finished = threading.Barrier(2), []

        def complete(position: int, job_id: str, barrier: threading.Barrier, finished: list[bool]) -> None:
            barrier.wait()
            with session_scope(factory) as session:
                done = jobs.complete_chunk(
                    session, job_id=job_id, position=position, processed=2, seconds=0.1
                )
            finished.append(done)

        threads = [threading.Thread(target=complete, args=(p, job.id, barrier, finished)) for p in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        view = jobs.get_job(session_factory=factory, job_id=job.id)
        assert sorted(finished) == [False, True]
        assert (view.status, view.done_chunks, view.processed_items) == ("done", 2, 4)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_job_is_read_in_one_statement_so_its_status_and_chunks_agree(database_url: str) -> None:
    """On SQLite each statement of a read is its own snapshot: a job read in two statements showed every
    chunk done and the job still running when the last chunk committed between them (`make chaos`,
    2026-12-04). Read in one statement, status and counts come from one snapshot."""
    from sqlalchemy import event

    upgrade_database(database_url)
    engine = build_engine(database_url)
    factory = build_session_factory(engine)
    store_tickets(factory, [f"ticket {i}" for i in range(4)], received_at=T0)
    job = jobs.create_reclassify_job(
        session_factory=factory, since=T0, until=None, model_version="v-x", chunk_size=2
    )
    with session_scope(factory) as session:
        for position in (0, 1):
            jobs.complete_chunk(session, job_id=job.id, position=position, processed=2, seconds=0.1)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    view = jobs.get_job(session_factory=factory, job_id=job.id)
    assert (view.status, view.done_chunks, view.processed_items, view.progress) == ("done", 2, 4, 1.0)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
    assert jobs.get_job(session_factory=factory, job_id="no-such-job") is None
