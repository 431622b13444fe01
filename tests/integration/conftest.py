"""Real processes: gunicorn running the gateway, a Celery inference worker, Redis, SQLite on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helploop.cli.run import stop_process_groups, wait_ready
from shared.db import upgrade_database
from shared.redis_server import free_port
from shared.registry import Registry
from tests.conftest import ADMIN_API_KEY, API_KEY, MODEL_CACHE, REPO_ROOT, WEBHOOK_SECRET
from tests.helpdesk_fake import RecordingHelpdesk
from tests.helpdesk_requests import API_TOKEN, integrations_yaml

BIN = Path(sys.executable).parent


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    log_dir: Path
    database_url: str
    redis_url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = proc
        return proc

    def start_worker(self) -> subprocess.Popen[bytes]:
        return self.start("worker", [str(BIN / "helploop"), "worker"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        stop_process_groups(list(self.processes.values()))
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture
def helpdesk() -> Iterator[RecordingHelpdesk]:
    """A local fake of the helpdesks' REST APIs that records every call."""
    with RecordingHelpdesk() as fake:
        yield fake


def helpdesk_env(helpdesk: RecordingHelpdesk, directory: Path) -> dict[str, str]:
    """Stack environment with all four helpdesk integrations writing back to `helpdesk`."""
    return {
        "HELPLOOP_INTEGRATIONS_FILE": str(integrations_yaml(directory / "integrations.yml", helpdesk.url)),
        "HELPDESK_API_TOKEN": API_TOKEN,
    }


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Extra environment for the stack's processes; a test module overrides this fixture."""
    return {}


@pytest.fixture
def gateway_workers() -> int:
    """gunicorn workers in the stack's gateway: one (each costs a process importing the app, about 1.4
    CPU-s); a test module checking what several workers share (metrics summed across processes)
    overrides this fixture with 2."""
    return 1


def base_env(
    tmp_path: Path, database_url: str, redis_url: str, models: Registry, encoders: Registry
) -> dict[str, str]:
    """The stack's environment before a test module's `stack_env`: this process's, less its HELPLOOP_*."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELPLOOP_")},
        "HELPLOOP_ENV": "test",
        "HELPLOOP_CACHE_DIR": str(MODEL_CACHE),
        "HELPLOOP_DATABASE_URL": database_url,
        "HELPLOOP_REDIS_URL": redis_url,
        "HELPLOOP_MODEL_REGISTRY_DIR": str(models.root),
        "HELPLOOP_ENCODER_REGISTRY_DIR": str(encoders.root),
        "HELPLOOP_GENERATOR_REGISTRY_DIR": str(tmp_path / "generators"),  # none: drafting is skipped
        "HELPLOOP_DRAFTS_ENABLED": "false",  # the draft test turns it on
        "HELPLOOP_STALE_REQUEUE_AFTER_S": "20",
        "HELPLOOP_STALE_SWEEP_INTERVAL_S": "2",
        "HELPLOOP_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "HELPLOOP_API_KEYS": API_KEY,
        "HELPLOOP_ADMIN_API_KEYS": ADMIN_API_KEY,
        "HELPLOOP_BROKER_VISIBILITY_TIMEOUT_S": "8",
        "HELPLOOP_BROKER_RESTORE_INTERVAL_S": "1",
        "HELPLOOP_TRIAGE_TIME_LIMIT_S": "5",
        "HELPLOOP_ONNX_INTRA_OP_THREADS": "1",
        "HELPLOOP_METRICS_DIR": str(tmp_path / "metrics"),
        "HELPLOOP_WORKER_METRICS_PORT": str(free_port()),
        "HELPLOOP_TRAINING_METRICS_PORT": str(free_port()),
        "HELPLOOP_RATE_LIMIT_API": "",  # pollers share one key
        "HELPLOOP_RATE_LIMIT_WEBHOOKS": "",
    }


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_url: str,
    trained_registry: Registry,
    encoder_registry: Registry,
    stack_env: dict[str, str],
    gateway_workers: int,
) -> Iterator[Stack]:
    database_url = f"sqlite:///{tmp_path / 'helploop.db'}"
    upgrade_database(database_url)
    port = free_port()
    env = {**base_env(tmp_path, database_url, redis_url, trained_registry, encoder_registry), **stack_env}
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    stack = Stack(f"http://127.0.0.1:{port}", env, log_dir, database_url, redis_url)
    stack.start(
        "gateway",
        [str(BIN / "helploop"), "gateway", "--bind", f"127.0.0.1:{port}", "--workers", str(gateway_workers)],
    )
    if request.node.get_closest_marker("own_worker") is None:  # else the test starts it, its own way
        stack.start_worker()
    try:
        wait_ready(stack.base_url, list(stack.processes.values()))
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()
