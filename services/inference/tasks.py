"""Celery tasks: thin wrappers over plain functions; ids in, never objects."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, shared_task
from celery.exceptions import Retry

from services.inference.context import WorkerContext, worker_context
from services.inference.retry import retry_or_give_up
from services.inference.routing import route_ticket
from services.inference.triage import Outcome, classify_ticket, give_up
from shared.celery_app import TASK_CLASSIFY, TASK_DRAFT, TASK_SHADOW, TASK_WRITEBACK, enqueue
from shared.metrics import TASK_DURATION

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def timed(func: F) -> F:
    """Timing of every task in one place (metrics hook in here)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = func(*args, **kwargs)
            outcome = str(result) if isinstance(result, str) else "ok"
            return result
        except Retry:
            outcome = "retry"
            raise
        finally:
            seconds = time.perf_counter() - started
            TASK_DURATION.labels(func.__name__, outcome).observe(seconds)
            log.debug("task %s took %.1f ms (%s)", func.__name__, seconds * 1000, outcome)

    return wrapper  # type: ignore[return-value]


@shared_task(
    name=TASK_CLASSIFY,  # routed to QUEUE_TRIAGE by task_routes in shared.celery_app (queue= is deprecated)
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded below by settings.triage_max_retries
    ignore_result=True,
)
@timed
def classify(self: Task, ticket_id: str) -> str:
    context = worker_context()
    try:
        outcome = classify_ticket(ticket_id=ticket_id, context=context.triage)
    except Exception as exc:
        factory = context.triage.session_factory
        return retry_or_give_up(
            self,
            exc,
            what=f"ticket {ticket_id}",
            max_retries=context.settings.triage_max_retries,
            give_up=lambda reason: give_up(ticket_id=ticket_id, session_factory=factory, reason=reason),
        )
    if outcome in (Outcome.CLASSIFIED, Outcome.ALREADY_DONE):
        if context.settings.drafts_enabled:
            enqueue(self.app, TASK_DRAFT, ticket_id)  # routes after drafting
        else:
            try:
                route_and_write_back(self, context, ticket_id)
            except Exception as exc:  # the retry finds the classification done and routes again; given up,
                # the sweeper re-enqueues tickets triaged but never routed
                return retry_or_give_up(
                    self,
                    exc,
                    what=f"routing of ticket {ticket_id}",
                    max_retries=context.settings.triage_max_retries,
                )
        if outcome == Outcome.CLASSIFIED and context.triage.model.registry.shadow_version():
            enqueue(self.app, TASK_SHADOW, ticket_id)
    return outcome


def route_and_write_back(task: Task, context: WorkerContext, ticket_id: str) -> None:
    """Decide the route (idempotent) and enqueue the write-back deliveries still pending."""
    for delivery_id in route_ticket(ticket_id=ticket_id, context=context.routing):
        enqueue(task.app, TASK_WRITEBACK, delivery_id)
