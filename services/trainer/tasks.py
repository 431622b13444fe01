"""The training worker's task: `helploop.training.retrain`, a thin wrapper over `run_retrain`.

Acknowledged on receipt, unlike the model-serving tasks: a run takes far longer than the broker's
visibility timeout, so late acks would redeliver it mid-run. A run whose worker died is failed at the next
worker start (its lock is gone); the nightly schedule or an operator starts the next one.
"""

from __future__ import annotations

import logging
import time

import redis
from celery import Task, shared_task

from services.trainer.retrain.flow import RetrainContext, run_retrain
from shared.celery_app import TASK_RETRAIN, settings_of
from shared.db import build_engine, build_session_factory, session_scope
from shared.db.base import utcnow
from shared.learning.models import RunStatus, TrainingRun
from shared.learning.runs import RunInProgress, create_run, finish_run
from shared.metrics import TRAINING_DURATION, TRAINING_RUNS
from shared.process_local import ProcessLocal
from shared.redis_client import redis_from_settings
from shared.registry import Registry
from shared.settings import Settings

log = logging.getLogger(__name__)
LOCK_KEY = "helploop:training:lock"


_context: ProcessLocal[RetrainContext] = ProcessLocal()


def training_context(settings: Settings | None = None) -> RetrainContext:
    """This process's retraining context, from `settings` (a command run in-process) or the Settings the
    training worker's Celery app was built with."""
    return _context.get(lambda: _build_context(settings or settings_of()))


def _build_context(settings: Settings) -> RetrainContext:
    client = redis_from_settings(settings, socket_connect_timeout=5, socket_timeout=30)
    factory = build_session_factory(build_engine(settings.database_url))
    return RetrainContext(factory, Registry(settings.model_registry_dir), client, settings)


def retrain_with_lock(*, run_id: str, context: RetrainContext) -> str:
    """One training at a time across every training worker: a Redis lock that expires after the limit."""
    assert context.redis is not None
    ttl = context.settings.training_time_limit_s + 300
    lock = context.redis.lock(LOCK_KEY, timeout=ttl, blocking=False)
    if not lock.acquire():
        reason = "another training run holds the lock"
        finish_run(
            session_factory=context.session_factory, run_id=run_id, status=RunStatus.SKIPPED, reasons=[reason]
        )
        return RunStatus.SKIPPED
    started = time.perf_counter()
    outcome = RunStatus.FAILED
    try:
        outcome = run_retrain(run_id=run_id, context=context)
        return outcome
    finally:
        TRAINING_RUNS.labels(outcome).inc()
        TRAINING_DURATION.labels(outcome).observe(time.perf_counter() - started)
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("training lock expired before run %s finished", run_id)


def fail_interrupted_runs(context: RetrainContext) -> int:
    """At worker start: runs left `running` while no worker holds the lock died with their worker."""
    assert context.redis is not None
    if context.redis.exists(LOCK_KEY):
        return 0
    with session_scope(context.session_factory) as session:
        rows = session.query(TrainingRun).filter(TrainingRun.status == RunStatus.RUNNING).all()
        for row in rows:
            row.status, row.finished_at = RunStatus.FAILED, utcnow()
            row.error = "interrupted: the training worker stopped during the run"
        return len(rows)


@shared_task(name=TASK_RETRAIN, bind=True, acks_late=False, ignore_result=True, max_retries=0)
def retrain(self: Task, run_id: str | None = None) -> str:
    """`run_id` from the API or CLI; None from the nightly schedule (a run row is made here)."""
    context = training_context()
    if run_id is None:
        try:
            run_id = create_run(
                session_factory=context.session_factory,
                trigger="schedule",
                options={"promote": "activate"},
                stale_after_s=context.settings.training_time_limit_s,
            ).id
        except RunInProgress as exc:
            log.info("nightly retraining skipped: %s", exc)
            return RunStatus.SKIPPED
    return retrain_with_lock(run_id=run_id, context=context)
