"""Build the inference worker's Celery app and run it (`helploop worker`)."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown
from prometheus_client import start_http_server

from services.inference.context import warm_up
from services.inference.sweeper import StaleTicketSweeper
from shared.celery_app import KNOWN_QUEUES, QUEUE_TRIAGE, create_celery
from shared.logging_setup import configure_logging
from shared.metrics import exposition_registry, initialize_series, mark_process_dead
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
TASK_MODULES = (
    "services.inference.tasks",
    "services.inference.kb_tasks",
    "services.inference.draft_tasks",
    "services.inference.writeback_tasks",
    "services.inference.batch_tasks",
)


_served_queues: list[str] = list(KNOWN_QUEUES)  # set by run_worker in the parent, read after fork


@worker_process_init.connect
def _load_models_after_fork(**_: object) -> None:
    warm_up(_served_queues)


@worker_process_shutdown.connect
def _mark_child_dead(pid: int | None = None, **_: object) -> None:
    mark_process_dead(pid or os.getpid())


def serve_metrics(port: int, queues: list[str]) -> None:
    """This node's /metrics on `port` (every prefork child's samples); 0 turns it off. A taken port is
    logged, not fatal: tickets matter more than their metrics."""
    initialize_series(queues=tuple(queues), model_kinds=("classifier", "encoder", "generator"))
    if not port:
        return
    try:
        start_http_server(port, registry=exposition_registry())
        log.info("worker metrics on :%d/metrics", port)
    except OSError as exc:
        log.error("worker metrics port %d unavailable (%s); serving without /metrics", port, exc)


def create_worker_app(settings: Settings, *, sweep: bool = True) -> Celery:
    app = create_celery(settings, include=TASK_MODULES, name="helploop-inference")
    if sweep:
        app.steps["worker"].add(StaleTicketSweeper)
    app.set_default()
    return app


def run_worker(
    argv: list[str] | None = None,
    *,
    queues: list[str] | None = None,
    settings: Settings | None = None,
    metrics_port: int = 0,
) -> None:
    """Start a prefork worker on `queues` (default: all of them); extra Celery CLI args may follow."""
    configure_logging()
    settings = settings or get_settings()
    global _served_queues
    queues = _served_queues = queues or list(KNOWN_QUEUES)
    app = create_worker_app(settings, sweep=QUEUE_TRIAGE in queues)
    serve_metrics(metrics_port, queues)
    args = [
        "worker",
        "-Q",
        ",".join(queues),
        "-c",
        str(settings.worker_concurrency),
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{'-'.join(queues)}@%h",
        "--loglevel",
        "INFO",
    ]
    app.worker_main([*args, *(argv or [])])
