"""Build the inference worker's Celery app and run it (`helploop worker`)."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from services.inference.context import warm_up
from services.inference.sweeper import StaleTicketSweeper
from shared.celery_app import (
    KNOWN_QUEUES,
    QUEUE_BATCH,
    QUEUE_DRAFTS,
    QUEUE_TRIAGE,
    create_celery,
    run_worker_main,
)
from shared.health import Check, active_model_check, serve_node_endpoints
from shared.logging_setup import configure_logging
from shared.metrics import initialize_series, mark_process_dead
from shared.redis_client import redis_from_settings
from shared.registry import Registry
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
TASK_MODULES = (
    "services.inference.tasks",
    "services.inference.kb_tasks",
    "services.inference.draft_tasks",
    "services.inference.writeback_tasks",
    "services.inference.batch_tasks",
    "services.inference.media_tasks",
)


_served_queues: list[str] = list(KNOWN_QUEUES)  # set by run_worker in the parent, read after fork


@worker_process_init.connect
def _load_models_after_fork(**_: object) -> None:
    warm_up(_served_queues)


@worker_process_shutdown.connect
def _mark_child_dead(pid: int | None = None, **_: object) -> None:
    mark_process_dead(pid or os.getpid())


def readiness_checks(settings: Settings, queues: list[str]) -> list[Check]:
    """Ready when the broker answers and the models the served queues need are in the registries."""
    broker = redis_from_settings(settings, socket_connect_timeout=2, socket_timeout=2)
    checks: list[Check] = [("broker", broker.ping)]
    if {QUEUE_TRIAGE, QUEUE_BATCH} & set(queues):
        checks.append(("classifier", active_model_check(Registry(settings.model_registry_dir))))
    if QUEUE_DRAFTS in queues and settings.drafts_enabled:
        checks.append(("generator", active_model_check(Registry(settings.generator_registry_dir))))
    return checks


def serve_node(port: int, queues: list[str], settings: Settings) -> None:
    """This node's /metrics (every prefork child's samples), /healthz and /readyz on `port`; 0: none."""
    initialize_series(queues=tuple(queues), model_kinds=("classifier", "encoder", "generator"))
    if port:
        serve_node_endpoints(port, readiness_checks(settings, queues))


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
    """Start a worker on `queues` (default: all of them) with the configured pool (prefork, or threads with
    micro-batching); extra Celery CLI args may follow."""
    settings = settings or get_settings()
    configure_logging(settings)
    global _served_queues
    queues = _served_queues = queues or list(KNOWN_QUEUES)
    app = create_worker_app(settings, sweep=QUEUE_TRIAGE in queues)
    serve_node(metrics_port, queues, settings)
    if settings.worker_pool == "threads":
        warm_up(queues)  # no fork: the worker process itself serves the models
    args = [
        "worker",
        "-Q",
        ",".join(queues),
        "-P",
        settings.worker_pool,
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
    run_worker_main(
        app, [*args, *(argv or [])], queues=queues, restart_on_failure=settings.worker_restart_on_failure
    )
