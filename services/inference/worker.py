"""Build the inference worker's Celery app and run it (`helploop worker`)."""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import worker_process_init

from services.inference.context import warm_up
from services.inference.sweeper import StaleTicketSweeper
from shared.celery_app import KNOWN_QUEUES, QUEUE_TRIAGE, create_celery
from shared.logging_setup import configure_logging
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


def create_worker_app(settings: Settings, *, sweep: bool = True) -> Celery:
    app = create_celery(settings, include=TASK_MODULES, name="helploop-inference")
    if sweep:
        app.steps["worker"].add(StaleTicketSweeper)
    app.set_default()
    return app


def run_worker(
    argv: list[str] | None = None, *, queues: list[str] | None = None, settings: Settings | None = None
) -> None:
    """Start a prefork worker on `queues` (default: all of them); extra Celery CLI args may follow."""
    configure_logging()
    settings = settings or get_settings()
    global _served_queues
    queues = _served_queues = queues or list(KNOWN_QUEUES)
    app = create_worker_app(settings, sweep=QUEUE_TRIAGE in queues)
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
