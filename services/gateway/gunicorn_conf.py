"""Gunicorn hooks for the gateway: a worker that stops marks what it published sent (its outbox relay's
last flush); a worker that exits is marked dead in the metrics directory (its gauges drop out; its
counters stay summed)."""

from __future__ import annotations

from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    from shared.metrics import mark_process_dead

    mark_process_dead(worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    from services.gateway.resources import shutdown

    shutdown(getattr(worker, "wsgi", None))
