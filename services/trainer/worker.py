"""The training worker (`helploop training-worker`, queue `training`) and the beat that schedules it."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready

from shared.celery_app import QUEUE_TRAINING, TASK_RETRAIN, create_celery, run_worker_main
from shared.logging_setup import configure_logging
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
TASK_MODULES = ("services.trainer.tasks",)


def cron_schedule(expression: str) -> crontab:
    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


def beat_schedule(settings: Settings) -> dict[str, Any]:
    return {
        "nightly-retrain": {
            "task": TASK_RETRAIN,
            "schedule": cron_schedule(settings.retrain_cron),
            "options": {"queue": QUEUE_TRAINING},
        }
    }


def create_training_app(settings: Settings) -> Celery:
    app = create_celery(settings, include=TASK_MODULES, name="helploop-training")
    app.conf.update(beat_schedule=beat_schedule(settings), timezone="UTC", enable_utc=True)
    app.set_default()
    return app


@worker_ready.connect
def _fail_interrupted_runs(**_: object) -> None:
    from services.trainer.tasks import fail_interrupted_runs, training_context

    try:
        if failed := fail_interrupted_runs(training_context()):
            log.warning("%d training run(s) were interrupted by a worker stop; marked failed", failed)
    except Exception:
        log.exception("could not check for interrupted training runs")


def training_readiness_checks(settings: Settings) -> list[tuple[str, Any]]:
    """Ready when the broker and the database answer (training reads resolutions from the database)."""
    from sqlalchemy import text

    from shared.db import build_engine
    from shared.redis_client import redis_from_settings

    broker = redis_from_settings(settings, socket_connect_timeout=2, socket_timeout=2)
    engine = build_engine(settings.database_url)

    def database() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return [("broker", broker.ping), ("database", database)]


def run_training_worker(
    argv: list[str] | None = None, *, settings: Settings | None = None, metrics_port: int = 0
) -> None:
    """One training at a time per worker; a fresh child per run returns the memory training took."""
    from shared.health import serve_node_endpoints
    from shared.metrics import initialize_series

    settings = settings or get_settings()
    configure_logging(settings)
    app = create_training_app(settings)
    initialize_series(queues=(QUEUE_TRAINING,))
    if metrics_port:
        serve_node_endpoints(metrics_port, training_readiness_checks(settings))
    args = ["worker", "-Q", QUEUE_TRAINING, "-c", "1", "--max-tasks-per-child", "1", "--without-gossip"]
    args += ["--without-mingle", "-n", "training@%h", "--loglevel", "INFO"]
    run_worker_main(
        app,
        [*args, *(argv or [])],
        queues=(QUEUE_TRAINING,),
        restart_on_failure=settings.worker_restart_on_failure,
    )


def run_beat(argv: list[str] | None = None, *, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_logging(settings)
    settings.beat_schedule_file.parent.mkdir(parents=True, exist_ok=True)
    app = create_training_app(settings)
    log.info("nightly retraining scheduled at cron %r (UTC)", settings.retrain_cron)
    app.start(["beat", "--schedule", str(settings.beat_schedule_file), "--loglevel", "INFO", *(argv or [])])
