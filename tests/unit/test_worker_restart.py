"""A worker that stops on an unrecoverable error replaces itself; a requested shutdown just exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery.signals import worker_init, worker_shutting_down

from shared import celery_app
from tests.conftest import REPO_ROOT


class Worker:
    exitcode: int | None = None


class StoppingApp:
    """What `Celery.worker_main` does: announce the worker (`worker_init`), run it, return nothing; the
    worker keeps its exit code (1 after an unrecoverable error, 0 after SIGTERM)."""

    def __init__(self, code: int | None, signal: str | None = None) -> None:
        self.code, self.signal = code, signal

    def worker_main(self, argv: list[str]) -> None:
        assert argv[0] == "worker"
        worker = Worker()
        worker_init.send(sender=worker)
        if self.signal:  # celery's shutdown handlers announce a requested stop
            worker_shutting_down.send(sender="host", sig=self.signal, how="Cold", exitcode=self.code)
        worker.exitcode = self.code


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(celery_app.os, "execv", lambda path, argv: calls.append((path, argv)))
    monkeypatch.setattr(celery_app.time, "sleep", lambda _s: None)
    return calls


def test_an_unrecoverable_error_restarts_the_same_command(execs: list[Any]) -> None:
    celery_app.run_worker_main(StoppingApp(1), ["worker"], queues=(), restart_on_failure=True)  # type: ignore[arg-type]
    assert execs == [(sys.executable, [sys.executable, *sys.orig_argv[1:]])]


@pytest.mark.parametrize("code", [0, None])
def test_a_requested_stop_returns(execs: list[Any], code: int | None) -> None:
    celery_app.run_worker_main(StoppingApp(code), ["worker"], queues=(), restart_on_failure=True)  # type: ignore[arg-type]
    assert execs == []


def test_a_cold_shutdown_asked_by_a_signal_is_not_restarted(execs: list[Any]) -> None:
    celery_app.run_worker_main(StoppingApp(1, "SIGQUIT"), ["worker"], queues=(), restart_on_failure=True)  # type: ignore[arg-type]
    assert execs == []


def test_without_restarts_the_failure_is_the_exit_status(execs: list[Any]) -> None:
    with pytest.raises(SystemExit) as stopped:
        celery_app.run_worker_main(StoppingApp(1), ["worker"], queues=(), restart_on_failure=False)  # type: ignore[arg-type]
    assert stopped.value.code == 1 and execs == []


FAILING_WORKER = """
import sys
from pathlib import Path

from celery import Celery, bootsteps

from shared.celery_app import run_worker_main

marker = Path(sys.argv[1])
starts = int(marker.read_text()) + 1 if marker.exists() else 1
marker.write_text(str(starts))
app = Celery("failing", broker="memory://")


class Unrecoverable(bootsteps.StartStopStep):
    def start(self, worker):
        raise RuntimeError("the broker connection broke beyond repair")


app.steps["worker"].add(Unrecoverable)
argv = ["worker", "-P", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
run_worker_main(app, argv, queues=("celery",), restart_on_failure=starts < 2)
"""


def run_script(source: str, directory: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run a worker script that counts its starts in a marker file (same pid across restarts)."""
    script, marker = directory / "worker_script.py", directory / "starts"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), str(marker)], env=env, capture_output=True, text=True, timeout=60
    )
    return done, marker


def test_a_real_celery_worker_that_fails_starts_again_in_the_same_process(tmp_path: Path) -> None:
    done, marker = run_script(FAILING_WORKER, tmp_path)
    assert marker.read_text() == "2", done.stderr[-2000:]  # started, failed, started again (same pid)
    assert "restarting in" in done.stderr and done.returncode == 1  # the second failure, restarts off


HANGING_WORKER = """
import sys
import time
from pathlib import Path

from celery import Celery, bootsteps

from shared.celery_app import run_worker_main

marker = Path(sys.argv[1])
starts = int(marker.read_text()) + 1 if marker.exists() else 1
marker.write_text(str(starts))
app = Celery("hanging", broker="memory://")
app.conf.task_time_limit = 1


class StuckOnStop(bootsteps.StartStopStep):  # a stop that waits forever, as on a broken pool pipe
    requires = ("celery.worker.components:Pool",)

    def stop(self, worker):
        time.sleep(3600)


class Unrecoverable(bootsteps.StartStopStep):  # fails once the pool runs: the worker stops warmly
    def start(self, consumer):
        time.sleep(0.5)
        raise RuntimeError("the result pipe broke beyond repair")


app.steps["worker"].add(StuckOnStop)
app.steps["consumer"].add(Unrecoverable)
argv = ["worker", "-P", "prefork", "-c", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"]
run_worker_main(app, argv, queues=("celery",), restart_on_failure=starts < 2, stop_margin_s=1)
"""


def test_a_worker_whose_stop_hangs_after_a_failure_kills_its_pool_and_starts_again(tmp_path: Path) -> None:
    done, marker = run_script(HANGING_WORKER, tmp_path)
    assert marker.read_text() == "2", done.stderr[-3000:]  # stuck, killed, started again (same pid)
    assert done.stderr.count("still stopping 2s") == 2 and "restarting in" in done.stderr, done.stderr[-3000:]
    assert done.returncode == 1  # the second time restarts are off: the failure is the exit status
