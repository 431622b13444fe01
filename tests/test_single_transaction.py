"""Drafts off, a ticket's first result, its routing decision and its write-back deliveries commit in one
transaction: a worker killed between those statements leaves none of them (the redelivered task does it
all again, once), and a worker killed after the commit leaves all of them (the redelivered task sends what
is still pending). The kill is a real SIGKILL of a process in the middle of the transaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.tickets.service import ingest_ticket
from services.inference.model_holder import ActiveModel
from services.inference.routing import RoutingContext, route_ticket, route_with_result
from services.inference.triage import Outcome, TriageContext, triage_ticket
from shared.db import build_engine, build_session_factory, upgrade_database
from shared.integrations.config import load_integrations
from shared.integrations.models import Delivery, DeliveryStatus
from shared.registry import Registry
from shared.routing.models import RoutingDecision
from shared.routing.policy import PolicyHolder
from shared.tickets.models import Ticket, TicketStatus, TriageResult
from tests.helpdesk_requests import API_TOKEN, integrations_yaml
from tests.test_storage import ticket_in

# the child: classify and route in one transaction, and die (SIGKILL) once the decision and deliveries are
# flushed, before the commit
CHILD = """
import functools, json, os, signal, sys
from services.inference.model_holder import ActiveModel
from services.inference.routing import RoutingContext, route_with_result
from services.inference.triage import TriageContext, triage_ticket
from shared.db import build_engine, build_session_factory
from shared.integrations.config import load_integrations
from shared.registry import Registry
from shared.routing.policy import PolicyHolder

spec = json.loads(sys.argv[1])
factory = build_session_factory(build_engine(spec["database_url"]))
routing = RoutingContext(factory, PolicyHolder(spec["policy"]), load_integrations(spec["integrations"]))

def route_then_die(session, ticket_id, result):
    deliveries = route_with_result(session, ticket_id, result, context=routing)
    assert deliveries, "the zendesk integration plans a delivery"
    os.kill(os.getpid(), signal.SIGKILL)

model = ActiveModel(Registry(spec["registry"]), intra_op_threads=1)
context = TriageContext(session_factory=factory, model=model, route=route_then_die)
triage_ticket(ticket_id=spec["ticket_id"], context=context)
"""


@pytest.fixture
def setup(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained_registry: Registry):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HELPDESK_API_TOKEN", API_TOKEN)
    upgrade_database(database_url)
    factory = build_session_factory(build_engine(database_url))
    integrations = integrations_yaml(tmp_path / "integrations.yml", "http://127.0.0.1:9")
    policy = tmp_path / "policy.yml"
    policy.write_text("auto_reply: {enabled: false}\n")
    ticket = ticket_in("Where is my parcel NW-12345? It is two weeks late.").model_copy(
        update={"external_id": "4242"}
    )
    stored = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="zendesk", event_id="e-1", ticket=ticket
    )
    spec = {
        "database_url": database_url,
        "registry": str(trained_registry.root),
        "integrations": str(integrations),
        "policy": str(policy),
        "ticket_id": stored.ticket_id,
    }
    return factory, spec


def _count(factory: sessionmaker[Session], model: type, ticket_id: str) -> int:
    with factory() as session:
        return int(
            session.scalar(select(func.count()).select_from(model).where(model.ticket_id == ticket_id)) or 0
        )


def _deliveries(factory: sessionmaker[Session], ticket_id: str) -> list[int]:
    query = (
        select(Delivery.id)
        .join(RoutingDecision, Delivery.routing_decision_id == RoutingDecision.id)
        .where(RoutingDecision.ticket_id == ticket_id, Delivery.status == DeliveryStatus.PENDING)
    )
    with factory() as session:
        return sorted(session.scalars(query))


def _routed_context(factory, spec: dict) -> tuple[TriageContext, RoutingContext]:  # type: ignore[no-untyped-def]
    """What the worker builds with drafts off: triage that routes in the transaction storing the result."""
    routing = RoutingContext(
        factory, PolicyHolder(Path(spec["policy"])), load_integrations(Path(spec["integrations"]))
    )
    context = TriageContext(
        session_factory=factory,
        model=ActiveModel(Registry(Path(spec["registry"])), intra_op_threads=1),
        route=lambda session, tid, result: route_with_result(session, tid, result, context=routing),
    )
    return context, routing


def test_a_worker_killed_inside_the_transaction_leaves_nothing_and_the_retry_does_it_all_once(setup) -> None:  # type: ignore[no-untyped-def]
    factory, spec = setup
    ticket_id = spec["ticket_id"]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(spec)],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    # nothing of the transaction survived: no result, no decision, no delivery, the ticket not triaged
    assert _count(factory, TriageResult, ticket_id) == 0 and _count(factory, RoutingDecision, ticket_id) == 0
    assert _deliveries(factory, ticket_id) == []
    with factory() as session:
        assert session.get(Ticket, ticket_id).status != TicketStatus.TRIAGED

    context, routing = _routed_context(factory, spec)
    triaged = triage_ticket(ticket_id=ticket_id, context=context)  # the redelivered task
    assert triaged.outcome == Outcome.ROUTED and triaged.deliveries
    assert list(triaged.deliveries) == _deliveries(factory, ticket_id)
    assert _count(factory, TriageResult, ticket_id) == 1 and _count(factory, RoutingDecision, ticket_id) == 1
    with factory() as session:
        decision = session.scalars(
            select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id)
        ).one()
        result = session.scalars(select(TriageResult).where(TriageResult.ticket_id == ticket_id)).one()
        assert decision.triage_result_id == result.id
        assert session.get(Ticket, ticket_id).status == TicketStatus.TRIAGED

    # killed after the commit, before the write-back was enqueued: the redelivered task finds the result,
    # and routing (idempotent) gives back the same pending deliveries to send
    assert triage_ticket(ticket_id=ticket_id, context=context).outcome == Outcome.ALREADY_DONE
    assert route_ticket(ticket_id=ticket_id, context=routing) == list(triaged.deliveries)
    assert _count(factory, RoutingDecision, ticket_id) == 1


def test_a_routed_ticket_sends_only_its_deliveries(monkeypatch: pytest.MonkeyPatch) -> None:
    """ROUTED: the pipeline neither routes again nor waits for attachments; it enqueues the write-backs."""
    from services.inference import pipeline

    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(pipeline, "enqueue", lambda _app, task, *args, **_kw: sent.append((task, args)))
    monkeypatch.setattr(pipeline, "route_and_write_back", lambda *_: pytest.fail("routed twice"))
    monkeypatch.setattr(pipeline, "attachment_wait_s", lambda *_a, **_k: pytest.fail("looked up again"))
    registry = type("R", (), {"shadow_version": lambda self: None})()
    context = type("C", (), {"triage": type("T", (), {"model": type("M", (), {"registry": registry})()})()})()
    pipeline.after_classification(None, context, "t1", Outcome.ROUTED, (7, 9))  # type: ignore[arg-type]
    assert sent == [("helploop.writeback.deliver", (7,)), ("helploop.writeback.deliver", (9,))]


def test_a_routing_failure_in_the_transaction_still_stores_the_result(setup) -> None:  # type: ignore[no-untyped-def]
    """A policy that cannot load (or any routing error) never costs the classification: the result is
    stored alone (CLASSIFIED) and the pipeline routes it afterwards, with its own retries."""
    factory, spec = setup
    ticket_id = spec["ticket_id"]

    def broken(session: Session, tid: str, result: TriageResult) -> list[int]:
        session.add(RoutingDecision(ticket_id=tid, key="x", triage_result_id=result.id, route="draft",
                                    queue="general", reasons=[], policy_version="p"))  # fmt: skip
        session.flush()
        raise ValueError("routing policy: invalid YAML")

    context = TriageContext(
        session_factory=factory,
        model=ActiveModel(Registry(Path(spec["registry"])), intra_op_threads=1),
        route=broken,
    )
    assert triage_ticket(ticket_id=ticket_id, context=context).outcome == Outcome.CLASSIFIED
    assert _count(factory, TriageResult, ticket_id) == 1 and _count(factory, RoutingDecision, ticket_id) == 0
    with factory() as session:
        assert session.get(Ticket, ticket_id).status == TicketStatus.TRIAGED


def test_a_first_delivery_reads_the_ticket_once_and_writes_in_one_transaction(setup) -> None:  # type: ignore[no-untyped-def]
    """No read-after-write: the reading transaction loads the ticket with its attachments in one query,
    the writing one stores result, status, decision and deliveries without loading the ticket again."""
    from sqlalchemy import event

    factory, spec = setup
    context, _ = _routed_context(factory, spec)
    context.model.get()  # the model loaded before counting
    statements: list[str] = []
    engine = factory.kw["bind"]

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        triaged = triage_ticket(ticket_id=spec["ticket_id"], context=context, first_delivery=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert triaged.outcome == Outcome.ROUTED and triaged.deliveries
    tickets_read = [s for s in statements if s.startswith("SELECT") and " FROM tickets" in s]
    assert len(tickets_read) == 1 and "JOIN attachments" in tickets_read[0], statements
    assert not [s for s in statements if s.startswith("SELECT attachments")], statements
    writes = [s.split(" (")[0].split(" SET")[0] for s in statements if s.split()[0] in ("INSERT", "UPDATE")]
    assert writes == [
        "INSERT INTO triage_results",
        "UPDATE tickets",
        "INSERT INTO routing_decisions",
        *["INSERT INTO deliveries"] * len(triaged.deliveries),
    ], statements
