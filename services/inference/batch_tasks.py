"""Low-priority tasks on queue `batch`: reclassification chunks and shadow predictions."""

from __future__ import annotations

from celery import Task, shared_task

from services.inference.context import worker_context
from services.inference.reclassify import reclassify_chunk
from services.inference.retry import retrying
from services.inference.shadow import shadow_classify
from shared.celery_app import TASK_RECLASSIFY_CHUNK, TASK_SHADOW
from shared.learning.jobs import fail_job

MAX_RETRIES = 5


def _fail_job(job_id: str, position: int, *, reason: str) -> None:
    factory = worker_context().batch.session_factory
    fail_job(session_factory=factory, job_id=job_id, reason=f"chunk {position}: {reason}")


@shared_task(
    name=TASK_RECLASSIFY_CHUNK,  # routed to QUEUE_BATCH by task_routes
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,  # a killed worker's chunk is redelivered; done chunks are skipped
    max_retries=MAX_RETRIES,
    ignore_result=True,
)
@retrying(give_up=_fail_job)
def reclassify_chunk_task(self: Task, job_id: str, position: int) -> str:
    outcome = reclassify_chunk(job_id=job_id, position=position, context=worker_context().batch)
    return "already_done" if outcome is None else "done"


@shared_task(name=TASK_SHADOW, bind=True, acks_late=True, max_retries=3, ignore_result=True)
@retrying()  # a shadow failure never touches the ticket itself: nothing to give up but its prediction
def shadow_task(self: Task, ticket_id: str) -> str:
    return shadow_classify(ticket_id=ticket_id, context=worker_context().shadow)
