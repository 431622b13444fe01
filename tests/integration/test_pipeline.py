"""End to end over real HTTP, Redis and a Celery worker process, including SIGKILL of a busy worker."""

from __future__ import annotations

import signal
import time

import psutil
import pytest
import redis
import requests
from sqlalchemy import func, select

from helploop.cli.client import post_signed, ticket_payload, wait_for_triage
from shared.db import build_engine, build_session_factory, session_scope
from shared.outbox.models import OutboxMessage
from shared.tickets.models import Ticket, TriageResult
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
UNACKED = "unacked"  # kombu's Redis hash of delivered-but-unacknowledged messages


def test_signed_ticket_is_classified_within_ten_seconds(stack: Stack) -> None:
    started = time.monotonic()
    response = post_signed(
        stack.base_url, ticket_payload("My parcel never arrived, where is it?"), WEBHOOK_SECRET
    )
    assert response.status_code == 202, response.text
    view = wait_for_triage(response.json()["status_url"], API_KEY, timeout=10)
    elapsed = time.monotonic() - started
    assert view["status"] == "triaged", (view, stack.logs())
    assert elapsed < 10
    classification = view["classification"]
    assert classification["label"] == classification["top_k"][0]["label"]
    assert 0 < classification["confidence"] <= 1 and len(classification["top_k"]) == 3
    assert classification["model_version"]
    assert set(classification["heads"]) == {"intent", "sentiment", "priority"}
    assert classification["heads"]["intent"]["label"] == classification["label"]
    assert classification["language"] == "en" and classification["language_supported"] is True
    timings = view["timings"]
    assert timings["received"] <= timings["triaged"]


def _counts(stack: Stack, ids: list[str]) -> tuple[int, int]:
    factory = build_session_factory(build_engine(stack.database_url))
    with session_scope(factory) as session:
        triaged = session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.id.in_(ids), Ticket.status == "triaged")
        )
        results = session.scalar(
            select(func.count()).select_from(TriageResult).where(TriageResult.ticket_id.in_(ids))
        )
    return triaged, results


def _unsent(stack: Stack) -> int:
    """Outbox messages not marked sent (a gateway's published messages wait for its relay's flush)."""
    factory = build_session_factory(build_engine(stack.database_url))
    with session_scope(factory) as session:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        return int(session.scalar(query) or 0)


def _post_many(stack: Stack, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = f"Ticket {i}: my order NW-{10000 + i} has not arrived and I need it for a birthday. " * 6
        response = post_signed(stack.base_url, ticket_payload(body), WEBHOOK_SECRET)
        assert response.status_code == 202
        ids.append(response.json()["id"])
    return ids


def _wait_all_triaged(stack: Stack, ids: list[str], timeout: float) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    counts = _counts(stack, ids)
    while counts[0] < len(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = _counts(stack, ids)
    return counts


def _wait_busy(stack: Stack, broker: redis.Redis, ids: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if broker.hlen(UNACKED) > 0 and _counts(stack, ids)[0] >= 1:
            return
        time.sleep(0.005)
    pytest.fail("worker never picked up a task\n" + stack.logs())


def _kill_while_holding(stack: Stack, ids: list[str], target: str) -> int:
    """Start the worker, wait until it is busy and holds an unacked message, then SIGKILL.

    Between two tasks the worker briefly holds nothing; a kill that lands there is retried.
    """
    broker = redis.Redis.from_url(stack.redis_url)
    for _attempt in range(5):
        worker = stack.start_worker()
        _wait_busy(stack, broker, ids)
        if target == "pool_child":
            children = psutil.Process(worker.pid).children()
            assert children, "prefork worker has no pool child"
            children[0].send_signal(signal.SIGKILL)
            return broker.hlen(UNACKED)
        stack.kill("worker", signal.SIGKILL)
        held = broker.hlen(UNACKED)
        if held:
            return held
    pytest.fail("could not kill the worker while it held a message")


@pytest.mark.own_worker
@pytest.mark.parametrize("target", ["whole_worker", "pool_child"])
def test_sigkilled_worker_loses_no_ticket(stack: Stack, target: str) -> None:
    ids = _post_many(stack, 60)
    held = _kill_while_holding(stack, ids, target)
    triaged_at_kill, _ = _counts(stack, ids)
    assert triaged_at_kill < len(ids), "worker finished everything before the kill; test proves nothing"
    if target == "whole_worker":
        assert held >= 1, "the killed worker held no unacknowledged message"
        stack.start_worker()
    triaged, results = _wait_all_triaged(stack, ids, timeout=60)
    assert triaged == len(ids), f"{len(ids) - triaged} tickets lost after SIGKILL\n{stack.logs()}"
    assert results == len(ids), "a redelivered ticket got a second result"


def _microbatches(stack: Stack) -> tuple[float, float]:
    """(graph runs, tickets) from the worker node's micro-batch histogram."""
    port = stack.env["HELPLOOP_WORKER_METRICS_PORT"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("helploop_microbatch_tickets_")
    }
    return values.get("helploop_microbatch_tickets_count", 0.0), values.get(
        "helploop_microbatch_tickets_sum", 0.0
    )


@pytest.mark.own_worker
def test_threads_worker_batches_a_backlog_and_loses_nothing_when_killed(stack: Stack) -> None:
    stack.env = {
        **stack.env,
        "HELPLOOP_WORKER_POOL": "threads",
        "HELPLOOP_WORKER_CONCURRENCY": "8",
        "HELPLOOP_TRIAGE_BATCH_WAIT_MS": "5",
    }
    ids = _post_many(stack, 40)  # waiting in the queue when the worker starts
    stack.start_worker()
    triaged, results = _wait_all_triaged(stack, ids, timeout=60)
    assert triaged == results == len(ids), stack.logs()
    runs, tickets = _microbatches(stack)
    assert tickets >= len(ids) and runs < 0.75 * tickets, (runs, tickets)  # several tickets per graph run

    stack.kill("worker", signal.SIGTERM)
    more = _post_many(stack, 60)
    held = _kill_while_holding(stack, more, "whole_worker")  # up to 8 tasks in flight at the kill
    assert held >= 1
    stack.start_worker()
    triaged, results = _wait_all_triaged(stack, more, timeout=60)
    assert triaged == len(more), f"{len(more) - triaged} tickets lost after SIGKILL\n{stack.logs()}"
    assert results == len(more), "a redelivered ticket got a second result"


def test_sigterm_drains_the_gateway_and_the_worker_without_losing_or_repeating_a_ticket(stack: Stack) -> None:
    """A rolling restart: SIGTERM lets the gateway answer what it accepted and the worker finish and
    acknowledge what it started (late acks: nothing is acked before its result is committed)."""
    ids = _post_many(stack, 30)
    broker = redis.Redis.from_url(stack.redis_url)
    _wait_busy(stack, broker, ids)
    worker = stack.processes.pop("worker")
    worker.send_signal(signal.SIGTERM)  # the main process: Celery's warm shutdown
    assert worker.wait(timeout=60) == 0, stack.logs()
    triaged_at_exit, results_at_exit = _counts(stack, ids)
    assert triaged_at_exit == results_at_exit  # every finished task's result is whole

    gateway = stack.processes.pop("gateway")
    statuses: list[int] = []
    for i in range(20):
        if i == 5:
            gateway.send_signal(signal.SIGTERM)  # gunicorn's graceful stop: in-flight requests finish
        try:
            response = post_signed(stack.base_url, ticket_payload(f"after stop {i}"), WEBHOOK_SECRET)
        except requests.ConnectionError:
            statuses.append(0)
            continue
        statuses.append(response.status_code)
        if response.status_code == 202:
            ids.append(response.json()["id"])  # acknowledged: it must be triaged like the rest
    assert gateway.wait(timeout=60) == 0
    assert _unsent(stack) == 0  # each stopping gateway worker marked what it published (its relay's flush)
    assert all(s in (202, 0) for s in statuses) and statuses[:5] == [202] * 5, statuses
    stack.start("gateway", gateway.args)  # type: ignore[arg-type]
    stack.start_worker()
    triaged, results = _wait_all_triaged(stack, ids, timeout=60)
    assert triaged == results == len(ids), f"after SIGTERM: {len(ids) - triaged} lost\n{stack.logs()}"
