"""Celery tasks: thin wrappers over plain functions (ids in, never objects), each under the one retry
policy (`retry.retrying`), each followed by the next step of the ticket (`pipeline`)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, shared_task
from celery.exceptions import Retry

from services.inference.context import worker_context
from services.inference.pipeline import after_classification
from services.inference.retry import retrying
from services.inference.triage import give_up, triage_ticket
from shared.celery_app import TASK_CLASSIFY
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


def _fail_ticket(ticket_id: str, *, reason: str) -> None:
    give_up(ticket_id=ticket_id, session_factory=worker_context().triage.session_factory, reason=reason)


@shared_task(
    name=TASK_CLASSIFY,  # routed to QUEUE_TRIAGE by task_routes in shared.celery_app (queue= is deprecated)
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by settings.triage_max_retries (`limit`)
    ignore_result=True,
)
@timed
@retrying(limit=lambda: worker_context().settings.triage_max_retries, give_up=_fail_ticket)
def classify(self: Task, ticket_id: str) -> str:
    """A failure in routing (drafts disabled) is retried the same way: the retry finds the classification
    done and routes again; a triaged ticket is never marked failed (given up, the sweeper re-enqueues
    tickets triaged but never routed)."""
    context = worker_context()
    first = not (self.request.delivery_info or {}).get("redelivered", False)
    triaged = triage_ticket(ticket_id=ticket_id, context=context.triage, first_delivery=first)
    after_classification(self.app, context, ticket_id, triaged.outcome, triaged.deliveries)
    return triaged.outcome
