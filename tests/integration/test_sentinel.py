"""Redis Sentinel: gateway and worker find the master through a real sentinel, keep working after a
failover to the replica, and the worker node's probes report the broker."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from helploop.cli.client import post_signed, ticket_payload, wait_for_triage
from shared.redis_server import embedded_server_binary, free_port
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
MASTER_NAME = "helploop"


@dataclass
class SentinelSetup:
    master_port: int
    replica_port: int
    sentinel_port: int

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_port, decode_responses=True)

    def master_port_now(self) -> int:
        return int(self.sentinel().sentinel_get_master_addr_by_name(MASTER_NAME)[1])


def _server_binary() -> str:
    return shutil.which("redis-server") or str(embedded_server_binary())


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[SentinelSetup]:
    setup = SentinelSetup(free_port(), free_port(), free_port())
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    procs = [
        _start([_server_binary(), "--port", str(setup.master_port), *common], tmp_path / "master.log"),
        _start(
            [_server_binary(), "--port", str(setup.replica_port), "--replicaof", "127.0.0.1",
             str(setup.master_port), *common],
            tmp_path / "replica.log",
        ),
    ]  # fmt: skip
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {setup.sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {setup.master_port} 1\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} 2000\n"
        f"sentinel failover-timeout {MASTER_NAME} 10000\n"
    )
    procs.append(_start([_server_binary(), str(config), "--sentinel"], tmp_path / "sentinel.log"))
    try:
        replica = redis.Redis(port=setup.replica_port)
        _wait(lambda: replica.info("replication")["master_link_status"] == "up", "the replica to sync")
        _wait(lambda: setup.master_port_now() == setup.master_port, "the sentinel to know the master")
        _wait(lambda: setup.sentinel().sentinel_master(MASTER_NAME)["num-slaves"] == 1, "replica discovery")
        yield setup
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def redis_url(sentinel_setup: SentinelSetup) -> str:  # the stack's processes get this URL
    return f"sentinel://127.0.0.1:{sentinel_setup.sentinel_port}/0"


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"HELPLOOP_REDIS_SENTINEL_MASTER": MASTER_NAME}


def _triage_one(stack: Stack, text: str, timeout: float) -> dict:
    response = post_signed(stack.base_url, ticket_payload(text), WEBHOOK_SECRET)
    assert response.status_code == 202, response.text
    return wait_for_triage(response.json()["status_url"], API_KEY, timeout=timeout)


def test_tickets_flow_through_sentinel_and_survive_a_failover(
    stack: Stack, sentinel_setup: SentinelSetup
) -> None:
    view = _triage_one(stack, "My parcel never arrived, where is it?", timeout=20)
    assert view["status"] == "triaged", stack.logs()
    node = f"http://127.0.0.1:{stack.env['HELPLOOP_WORKER_METRICS_PORT']}"
    _wait(lambda: requests.get(f"{node}/readyz", timeout=5).status_code == 200, "the worker node ready")
    assert requests.get(f"{node}/readyz", timeout=5).json()["checks"]["broker"]["ok"] is True

    sentinel_setup.sentinel().execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
    _wait(lambda: sentinel_setup.master_port_now() == sentinel_setup.replica_port, "the failover", 60)
    promoted = redis.Redis(port=sentinel_setup.replica_port)
    _wait(lambda: promoted.info("replication")["role"] == "master", "the replica to take over", 30)

    started = time.monotonic()
    view = _triage_one(stack, "I was charged twice for one order, please refund me.", timeout=60)
    assert view["status"] == "triaged", stack.logs()
    print(f"first ticket after the failover triaged in {time.monotonic() - started:.1f} s")
    assert promoted.exists("_kombu.binding.triage"), "the queues live on the new master"
    assert requests.get(f"{stack.base_url}/readyz", timeout=5).status_code == 200
