"""The one function that builds a Celery app from settings, and the task/queue names services share.

The gateway publishes by task name only (it never imports worker code); workers register the tasks.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import psutil
from celery import Celery
from celery.signals import before_task_publish, task_prerun, worker_init, worker_shutting_down
from kombu import Queue

from shared.redis_client import is_sentinel_url, sentinel_transport_options
from shared.settings import Settings

log = logging.getLogger(__name__)
RESTART_DELAY_S = 2.0
STOP_MARGIN_S = 30.0  # past the longest hard time limit of its tasks, a stopping worker is stuck

TASK_CLASSIFY = "helploop.triage.classify"
TASK_KB_INDEX = "helploop.kb.index"
TASK_KB_SEARCH = "helploop.kb.search"
TASK_DRAFT = "helploop.drafts.generate"
TASK_SHADOW_DRAFT = "helploop.drafts.shadow"  # the shadow generator's draft of a drafted ticket
TASK_WRITEBACK = "helploop.writeback.deliver"
TASK_RESOLUTION_LABELS = "helploop.writeback.resolution_labels"  # read a solved ticket's final tags
TASK_RETRAIN = "helploop.training.retrain"
TASK_RECLASSIFY_CHUNK = "helploop.batch.reclassify_chunk"
TASK_SHADOW = "helploop.batch.shadow_classify"
TASK_MEDIA_EXTRACT = "helploop.media.extract"  # fetch and read a ticket's attachments
QUEUE_TRIAGE = "triage"
QUEUE_KB = "kb"
QUEUE_DRAFTS = "drafts"
QUEUE_SHADOW_DRAFTS = "shadow_drafts"  # a second generator in memory: its own worker process
QUEUE_CALLBACKS = "callbacks"
QUEUE_BATCH = "batch"  # low priority: reclassification chunks, shadow predictions
QUEUE_TRAINING = "training"  # served by the training worker only
QUEUE_MEDIA = "media"  # downloads, OCR, speech: slow, and their engines in memory: its own worker
KNOWN_QUEUES = (  # the inference workers'
    QUEUE_TRIAGE,
    QUEUE_KB,
    QUEUE_DRAFTS,
    QUEUE_SHADOW_DRAFTS,
    QUEUE_CALLBACKS,
    QUEUE_BATCH,
    QUEUE_MEDIA,
)
ALL_QUEUES = (*KNOWN_QUEUES, QUEUE_TRAINING)
ROUTES = {
    TASK_CLASSIFY: {"queue": QUEUE_TRIAGE},
    TASK_DRAFT: {"queue": QUEUE_DRAFTS},
    TASK_SHADOW_DRAFT: {"queue": QUEUE_SHADOW_DRAFTS},
    TASK_KB_INDEX: {"queue": QUEUE_KB},
    TASK_KB_SEARCH: {"queue": QUEUE_KB},
    TASK_WRITEBACK: {"queue": QUEUE_CALLBACKS},
    TASK_RESOLUTION_LABELS: {"queue": QUEUE_CALLBACKS},
    TASK_RETRAIN: {"queue": QUEUE_TRAINING},
    TASK_RECLASSIFY_CHUNK: {"queue": QUEUE_BATCH},
    TASK_SHADOW: {"queue": QUEUE_BATCH},
    TASK_MEDIA_EXTRACT: {"queue": QUEUE_MEDIA},
}


def queue_of(task: str) -> str:
    """The queue `task` is routed to: the routes table above is the one place that says it."""
    return str(ROUTES[task]["queue"])


def enqueue(app: Celery, task: str, *args: Any, **options: Any) -> Any:
    """The one way to publish a task by name: ids as arguments, the queue from the routes table, no
    result stored unless the caller asks (`ignore_result=False`). Other options go to `send_task`."""
    options.setdefault("ignore_result", True)
    return app.send_task(task, args=list(args), queue=queue_of(task), **options)


PUBLISHED_AT = "helploop_published_at"  # a message header: when the task was published (epoch seconds)


def _stamp_published_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_AT, time.time())


def _observe_queue_wait(task: Any = None, **_: Any) -> None:
    """In the worker, as a task starts: time since publication, by queue (redeliveries included)."""
    from shared.metrics import QUEUE_WAIT

    request = getattr(task, "request", None)
    published = getattr(request, PUBLISHED_AT, None)
    if isinstance(published, int | float):
        queue = ((getattr(request, "delivery_info", None) or {}).get("routing_key")) or "unknown"
        QUEUE_WAIT.labels(queue).observe(max(0.0, time.time() - published))


def _time_limits(settings: Settings) -> dict[str, dict[str, int | float]]:
    """Per-task (soft, hard) time limits where the triage default does not fit."""
    draft = {"soft_time_limit": settings.draft_time_limit_s, "time_limit": settings.draft_time_limit_s + 15}
    return {
        TASK_DRAFT: draft,
        TASK_SHADOW_DRAFT: dict(draft),
        TASK_RECLASSIFY_CHUNK: {"soft_time_limit": 600, "time_limit": 660},  # up to 5,000 tickets
        TASK_MEDIA_EXTRACT: {
            "soft_time_limit": settings.media_time_limit_s,
            "time_limit": settings.media_time_limit_s + 30,
        },
        TASK_RETRAIN: {
            "soft_time_limit": settings.training_time_limit_s,
            "time_limit": settings.training_time_limit_s + 120,
        },
    }


def create_celery(settings: Settings, *, include: Sequence[str] = (), name: str = "helploop") -> Celery:
    """Celery on Redis, configured for at-least-once delivery of model tasks."""
    before_task_publish.connect(_stamp_published_at, weak=False, dispatch_uid="helploop-published-at")
    task_prerun.connect(_observe_queue_wait, weak=False, dispatch_uid="helploop-queue-wait")
    app = Celery(name, broker=settings.redis_url, include=list(include))
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # tasks that answer a caller (knowledge-base search) opt in
        result_backend=settings.redis_url,
        result_expires=300,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_TRIAGE,
        task_queues=[Queue(q, routing_key=q) for q in ALL_QUEUES],
        task_routes=ROUTES,
        task_time_limit=settings.triage_time_limit_s + 15,
        task_soft_time_limit=settings.triage_time_limit_s,
        task_annotations=_time_limits(settings),
        worker_send_task_events=settings.celery_task_events,
        task_send_sent_event=settings.celery_task_events,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.broker_connect_timeout_s,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "unacked_restore_interval": settings.broker_restore_interval_s,
            "unacked_restore_throttle": 1,
            "socket_timeout": 10,
            "socket_connect_timeout": settings.broker_connect_timeout_s,
        },
        worker_proc_alive_timeout=30,
        worker_concurrency=settings.worker_concurrency,
    )
    app.conf.result_backend_transport_options = {"retry_policy": result_retry_policy(settings)}
    if is_sentinel_url(settings.redis_url):
        options = sentinel_transport_options(settings.redis_sentinel_master, settings.redis_sentinel_password)
        app.conf.broker_transport_options.update(options)
        app.conf.result_backend_transport_options.update(options)
    app.conf.helploop_settings = settings  # what tasks and bootsteps read (settings_of): one Settings
    return app


def result_retry_policy(settings: Settings) -> dict[str, float]:
    """Reconnecting to the result store (a caller waiting on an answer: the knowledge-base search) gives up
    within about the caller's own timeout: Celery's default, 20 retries a second apart, kept a search
    waiting some 18 s for a Redis that was down, long past `kb_search_timeout_s`, before its 503."""
    return {
        "max_retries": max(1, int(settings.kb_search_timeout_s)),
        "interval_start": 0,
        "interval_step": 1,
        "interval_max": 1,
    }


def settings_of(app: Celery | None = None) -> Settings:
    """The Settings the entry point built this Celery app with (`app`, else the current one): workers'
    tasks and bootsteps read them here rather than the environment, also in prefork children."""
    from celery import current_app

    settings = (app or current_app).conf.get("helploop_settings")
    if settings is None:
        raise RuntimeError("this Celery app was not made by shared.celery_app.create_celery(settings)")
    return settings


def longest_time_limit_s(app: Celery, queues: Sequence[str]) -> float:
    """The longest hard time limit of the registered tasks routed to `queues` (the default where a task
    sets none): how long a warm stop may wait for a running task before the pool kills it."""
    default = float(app.conf.task_time_limit or 0)
    limits = [default]
    for name, task in list(app.tasks.items()):
        if ROUTES.get(name, {}).get("queue") in queues:
            limits.append(float(task.time_limit or default))
    return max(limits)


class StopWatchdog(threading.Thread):
    """After an unrecoverable error a worker stops warmly, waiting for its running tasks, which their time
    limits bound. A stop that outlasts them is stuck (seen once in the fault suite: after a Redis restart the
    main process waited forever on a pool child's broken result pipe): the pool is killed and `stuck` runs
    with the exit code — a restart, or the exit a finished stop would make. A requested shutdown, or a stop
    that finishes (`done`), is left alone."""

    def __init__(
        self,
        worker: Any,
        *,
        grace_s: Callable[[], float],
        requested: list[bool],
        stuck: Callable[[int], None],
    ) -> None:
        super().__init__(name="stop-watchdog", daemon=True)
        self.worker, self.grace_s, self.requested, self.stuck = worker, grace_s, requested, stuck
        self.done = threading.Event()

    def run(self) -> None:
        code = None
        while code in (None, 0):
            if self.done.wait(1.0) or self.requested:
                return
            code = self.worker.exitcode  # set by the worker as it starts to stop
        grace = self.grace_s()
        if self.done.wait(grace) or self.requested:
            return
        log.error("worker still stopping %.0fs after an unrecoverable error: killing its pool", grace)
        for child in psutil.Process().children(recursive=True):
            child.kill()
        self.stuck(code)


def _after_failure(code: int, *, restart: bool, leave: Callable[[int], Any]) -> None:
    if not restart:
        leave(code)
        return
    log.error(
        "worker stopped on an unrecoverable error (exit %s); restarting in %.0fs", code, RESTART_DELAY_S
    )
    time.sleep(RESTART_DELAY_S)
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _exit_status(code: int) -> None:
    raise SystemExit(code)


def run_worker_main(
    app: Celery,
    argv: list[str],
    *,
    queues: Sequence[str],
    restart_on_failure: bool,
    stop_margin_s: float = STOP_MARGIN_S,
) -> None:
    """Run `celery worker` with `argv` (consuming `queues`); a worker that stops on an unrecoverable error
    (kombu can fail this way when Redis goes away while it restores unacknowledged messages) replaces itself
    with a fresh process, same pid and command line, instead of leaving its queues unserved — also when its
    stop hangs (`StopWatchdog`: `stop_margin_s` past its tasks' longest time limit). A requested shutdown
    (SIGTERM, SIGINT, SIGQUIT: warm or cold) returns normally."""
    workers: list[Any] = []
    watchdogs: list[StopWatchdog] = []
    requested: list[bool] = []

    def started(sender: Any = None, **_: Any) -> None:
        workers.append(sender)
        stuck = partial(_after_failure, restart=restart_on_failure, leave=os._exit)
        grace = lambda: longest_time_limit_s(app, queues) + stop_margin_s  # noqa: E731
        watchdogs.append(StopWatchdog(sender, grace_s=grace, requested=requested, stuck=stuck))
        watchdogs[-1].start()

    def stopping(**_: Any) -> None:
        requested.append(True)

    worker_init.connect(started, weak=False)
    worker_shutting_down.connect(stopping, weak=False)
    try:
        app.worker_main(argv)  # returns whatever the worker's exit code: read it from the worker itself
    finally:
        for watchdog in watchdogs:
            watchdog.done.set()
        worker_init.disconnect(started)
        worker_shutting_down.disconnect(stopping)
    code = workers[-1].exitcode if workers else None
    if code in (0, None) or requested:
        return
    _after_failure(code, restart=restart_on_failure, leave=_exit_status)
