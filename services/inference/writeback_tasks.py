"""The write-back tasks (queue `callbacks`): thin wrappers over `deliver` and `fetch_final_labels`, retried
with the write-back backoff."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from services.inference.context import worker_context
from services.inference.retry import retrying
from services.inference.tasks import timed
from services.inference.writeback.delivery import DeliveryOutcome, deliver
from services.inference.writeback.final_labels import LabelsOutcome, fetch_final_labels
from shared.celery_app import TASK_RESOLUTION_LABELS, TASK_WRITEBACK

log = logging.getLogger(__name__)
# Tasks that call a helpdesk: acknowledged after the work, database hiccups retried by the one policy
# without end, the helpdesk's own failures retried by the task with the write-back backoff, bounded by
# settings.writeback_max_attempts (not by Celery's max_retries).
HELPDESK_CALL_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": None,
    "ignore_result": True,
}


@shared_task(
    name=TASK_WRITEBACK,  # routed to QUEUE_CALLBACKS by task_routes in shared.celery_app
    **HELPDESK_CALL_OPTIONS,
)
@timed
@retrying(on=(OperationalError,))
def deliver_writeback(self: Task, delivery_id: int) -> str:
    result = deliver(delivery_id=delivery_id, context=worker_context().writeback)
    if result.outcome is DeliveryOutcome.RETRY:
        raise self.retry(countdown=result.delay_s)
    return result.outcome


@shared_task(
    name=TASK_RESOLUTION_LABELS,  # routed to QUEUE_CALLBACKS by task_routes in shared.celery_app
    **HELPDESK_CALL_OPTIONS,
)
@timed
@retrying(on=(OperationalError,))
def fetch_resolution_labels(self: Task, ticket_id: str) -> str:
    """A solved ticket's final tags from its helpdesk → its resolution's final label (staged by the
    gateway in the resolution's transaction when the webhook carried no tags)."""
    result = fetch_final_labels(
        ticket_id=ticket_id, attempt=self.request.retries, context=worker_context().writeback
    )
    if result.outcome is LabelsOutcome.RETRY:
        raise self.retry(countdown=result.delay_s)
    return result.outcome
