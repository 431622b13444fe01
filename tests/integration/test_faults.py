"""The fault suite (`make chaos`): real gunicorn, Celery worker, Redis and SQLite under steady webhook
load while worker processes are SIGKILLed, Redis is killed and restarted empty, the gateway is SIGKILLed
and restarted, and a poison ticket crashes the model. Every accepted ticket must end triaged (or, the
poison one, failed with its reason), with one result and one helpdesk note each; the counts are printed
and written to `var/chaos/report.json`."""

from __future__ import annotations

import json
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
import requests
from sqlalchemy import func, select

from helploop.cli.run import wait_ready
from shared.db import build_engine, build_session_factory, session_scope
from shared.outbox.models import OutboxMessage
from shared.redis_server import EmbeddedRedis, free_port, start_embedded_redis
from shared.tickets.models import Ticket, TriageResult
from tests.conftest import REPO_ROOT
from tests.helpdesk_fake import RecordingHelpdesk
from tests.helpdesk_requests import fixture, signed
from tests.integration.conftest import BIN, Stack, helpdesk_env
from tests.integration.faulty_worker import POISON

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


@pytest.fixture
def gateway_workers() -> int:
    """Faults under load: the gateway as deployed, two gunicorn workers."""
    return 2


WORKER_KILLS, REDIS_RESTARTS, GATEWAY_RESTARTS = 20, 3, 3
MAX_ATTEMPTS = 4  # HELPLOOP_TRIAGE_MAX_RETRIES=3 below
POISON_INDEX = 40


class RestartableRedis:
    """A redis-server that keeps nothing on disk: a restart loses every queued message."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.server: EmbeddedRedis = start_embedded_redis(data_dir, persist=False, port=self.port)
        self.url = self.server.url

    def kill(self) -> None:
        self.server.process.kill()
        self.server.process.wait(timeout=10)

    def start(self) -> None:
        self.server = start_embedded_redis(self.data_dir, persist=False, port=self.port)


@pytest.fixture
def chaos_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path / "redis")
    yield server
    server.server.stop()


@pytest.fixture
def redis_url(chaos_redis: RestartableRedis) -> str:
    return chaos_redis.url


@pytest.fixture
def stack_env(helpdesk: RecordingHelpdesk, tmp_path: Path) -> dict[str, str]:
    return {
        **helpdesk_env(helpdesk, tmp_path),
        "HELPLOOP_WORKER_CONCURRENCY": "2",
        "HELPLOOP_TRIAGE_MAX_RETRIES": str(MAX_ATTEMPTS - 1),
        "HELPLOOP_TRIAGE_TIME_LIMIT_S": "20",
        "HELPLOOP_STALE_REQUEUE_AFTER_S": "8",  # messages a Redis restart lost come back this soon
        "HELPLOOP_STALE_SWEEP_INTERVAL_S": "1",
        "HELPLOOP_OUTBOX_RELAY_INTERVAL_S": "0.2",
        "HELPLOOP_BROKER_CONNECT_TIMEOUT_S": "0.5",
        "HELPLOOP_WRITEBACK_HTTP_TIMEOUT_S": "5",
    }


@dataclass(eq=False)
class Load(threading.Thread):
    """A helpdesk posting a new Zammad ticket every ~100 ms; like Zammad, it repeats a request that got no
    2xx (connection refused while the gateway restarts) until one arrives."""

    stack: Stack
    accepted: dict[int, str] = field(default_factory=dict)
    repeats: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    redis_down: threading.Event = field(default_factory=threading.Event)
    accepted_while_redis_down: int = 0

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, daemon=True)

    def payload(self, index: int) -> bytes:
        document = fixture("zammad_ticket_created")
        document["ticket"]["id"] = document["article"]["ticket_id"] = 500_000 + index
        document["article"]["id"] = 900_000 + index
        text = f"Order NW-{index} never arrived, where is my parcel? It has been two weeks now."
        document["article"]["body"] = f"<div>{POISON if index == POISON_INDEX else text}</div>"
        return json.dumps(document).encode()

    def post_until_accepted(self, index: int) -> None:
        body = self.payload(index)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            path, headers = signed("zammad", body)
            try:
                response = requests.post(
                    self.stack.base_url + path,
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                    timeout=10,
                )
                if response.status_code in (200, 202):
                    self.accepted[index] = response.json()["id"]
                    self.accepted_while_redis_down += self.redis_down.is_set()
                    return
            except requests.RequestException:
                pass
            self.repeats += 1
            time.sleep(0.2)
        raise AssertionError(f"ticket {index} never accepted")

    def run(self) -> None:
        index = 0
        while not self.stopping.is_set():
            self.post_until_accepted(index)
            index += 1
            time.sleep(0.1)


def _start_worker(stack: Stack) -> psutil.Process:
    proc = stack.start("worker", [sys.executable, "-m", "tests.integration.faulty_worker"])
    return psutil.Process(proc.pid)


def _pool_children(worker: psutil.Process, timeout: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = worker.children()
        if len(children) >= 2:
            return children
        time.sleep(0.1)
    raise AssertionError("the worker has no pool children")


def _wait_holding(broker: redis.Redis, timeout: float = 30) -> bool:
    """Until the worker holds an unacknowledged message (a task is running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if broker.hlen("unacked") > 0:
                return True
        except redis.RedisError:
            pass
        time.sleep(0.01)
    return False


def kill_workers(stack: Stack, broker: redis.Redis, worker: psutil.Process) -> tuple[psutil.Process, int]:
    """20 SIGKILLs mid-task: pool children (Celery starts new ones) and, every fourth, the whole worker."""
    held = 0
    for kill in range(WORKER_KILLS):
        held += _wait_holding(broker)
        if kill % 4 == 3:
            stack.kill("worker", signal.SIGKILL)
            worker = _start_worker(stack)
        else:
            random.choice(_pool_children(worker)).send_signal(signal.SIGKILL)
        time.sleep(1.5)
    return worker, held


def restart_redis(chaos_redis: RestartableRedis, load: Load) -> None:
    for _ in range(REDIS_RESTARTS):
        time.sleep(3)
        chaos_redis.kill()
        load.redis_down.set()
        time.sleep(3)  # webhooks keep arriving: accepted into the outbox
        chaos_redis.start()
        load.redis_down.clear()


def restart_gateway(stack: Stack) -> None:
    for _ in range(GATEWAY_RESTARTS):
        time.sleep(3)
        stack.kill("gateway", signal.SIGKILL)
        bind = stack.base_url.removeprefix("http://")
        stack.start("gateway", [str(BIN / "helploop"), "gateway", "--bind", bind, "--workers", "2"])
        wait_ready(stack.base_url, [stack.processes["gateway"]])


def _outcome(stack: Stack) -> dict[str, Any]:
    factory = build_session_factory(build_engine(stack.database_url))
    with session_scope(factory) as session:
        rows = session.execute(
            select(Ticket.id, Ticket.status, Ticket.failure_reason, Ticket.external_id)
        ).all()
        results = dict(
            session.execute(
                select(TriageResult.ticket_id, func.count()).group_by(TriageResult.ticket_id)
            ).all()
        )
        retried = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.attempts > 1)
        relayed_after_failure = session.scalar(retried)
    return {
        "tickets": {r.id: r for r in rows},
        "results": results,
        "relayed_after_failure": relayed_after_failure,
    }


def _worker_log(stack: Stack) -> str:
    return "".join(p.read_text(errors="replace") for p in stack.log_dir.glob("worker*.log"))


def wait_until_settled(
    stack: Stack, helpdesk: RecordingHelpdesk, ids: list[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        outcome = _outcome(stack)
        tickets = outcome["tickets"]
        settled = all(tickets.get(i) is not None and tickets[i].status in ("triaged", "failed") for i in ids)
        triaged = [tickets[i] for i in ids if tickets.get(i) is not None and tickets[i].status == "triaged"]
        noted = all(helpdesk.posted.get(f"zammad:{t.external_id}") for t in triaged)
        if (settled and noted) or time.monotonic() > deadline:
            return outcome
        time.sleep(1)


def _fault_report(stack: Stack, load: Load, outcome: dict, notes: dict, *, held: int, seconds: float) -> dict:
    """What happened to every accepted ticket, and what the faults were (var/chaos/report.json)."""
    ids = list(load.accepted.values())
    poison_id = load.accepted[POISON_INDEX]
    tickets, results = outcome["tickets"], outcome["results"]
    logs = _worker_log(stack)
    return {
        "accepted": len(ids),
        "stored": len(tickets),
        "triaged": sum(t.status == "triaged" for t in tickets.values()),
        "failed": sum(t.status == "failed" for t in tickets.values()),
        "lost": sum(i not in tickets or tickets[i].status not in ("triaged", "failed") for i in ids),
        "duplicate_results": sum(max(0, n - 1) for n in results.values()),
        "duplicate_notes": sum(max(0, n - 1) for n in notes.values()),
        "missing_notes": sum(1 for i in ids if i != poison_id and notes.get(i, 0) == 0),
        "worker_kills": WORKER_KILLS,
        "kills_while_holding_a_task": held,
        "redis_restarts": REDIS_RESTARTS,
        "gateway_restarts": GATEWAY_RESTARTS,
        "requests_repeated_by_the_helpdesk": load.repeats,
        "accepted_while_redis_down": load.accepted_while_redis_down,
        "outbox_messages_published_after_a_failed_try": outcome["relayed_after_failure"],
        "tickets_requeued_by_the_sweeper": sum(int(n) for n in re.findall(r"re-enqueued (\d+) ticket", logs)),
        "worker_restarts_after_an_unrecoverable_broker_error": logs.count(
            "stopped on an unrecoverable error"
        ),
        "poison": {"status": tickets[poison_id].status, "reason": tickets[poison_id].failure_reason},
        "seconds": round(seconds, 1),
    }


@pytest.mark.own_worker
def test_no_accepted_ticket_is_lost_or_repeated_under_faults(
    stack: Stack, helpdesk: RecordingHelpdesk, chaos_redis: RestartableRedis
) -> None:
    started = time.monotonic()
    worker = _start_worker(stack)
    broker = redis.Redis.from_url(chaos_redis.url, socket_timeout=1)
    load = Load(stack)
    load.start()
    worker, held = kill_workers(stack, broker, worker)
    restart_redis(chaos_redis, load)
    restart_gateway(stack)
    time.sleep(3)
    load.stopping.set()
    load.join(timeout=150)
    ids = list(load.accepted.values())
    poison_id = load.accepted[POISON_INDEX]
    outcome = wait_until_settled(stack, helpdesk, ids, timeout=240)
    tickets = outcome["tickets"]
    notes = {i: len(helpdesk.posted.get(f"zammad:{tickets[i].external_id}", [])) for i in ids if i in tickets}
    report = _fault_report(stack, load, outcome, notes, held=held, seconds=time.monotonic() - started)
    out = REPO_ROOT / "var" / "chaos"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print("\nfault suite:", json.dumps(report, indent=2))
    assert report["lost"] == 0, (report, stack.logs())
    assert report["stored"] == report["accepted"], "a ticket was stored that the helpdesk never saw accepted"
    assert report["duplicate_results"] == 0 and report["duplicate_notes"] == 0, report
    assert report["missing_notes"] == 0, (report, stack.logs())
    assert report["failed"] == 1 and tickets[poison_id].status == "failed", report
    assert tickets[poison_id].failure_reason.startswith(f"gave up after {MAX_ATTEMPTS} attempts"), report
    assert notes.get(poison_id, 0) == 0
    assert held >= WORKER_KILLS // 2, "most kills should land while a task runs"
    assert (
        report["accepted_while_redis_down"] > 0 and report["outbox_messages_published_after_a_failed_try"] > 0
    )
