"""The attachments task: fetch and read a ticket's attachments (queue `media`), then enqueue its
classification again, which weighs their text and lets the draft go on. A thin wrapper over
`services.inference.attachments.read_attachments`."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from services.inference.attachments import MediaOutcome, fail_pending, read_attachments
from services.inference.context import worker_context
from services.inference.retry import retrying
from services.inference.tasks import timed
from shared.celery_app import TASK_CLASSIFY, TASK_MEDIA_EXTRACT, enqueue

log = logging.getLogger(__name__)


def _give_up(ticket_id: str, *, reason: str) -> None:
    """Downloads kept failing: the attachments still pending are failed; the ticket goes on without them."""
    failed = fail_pending(
        ticket_id=ticket_id, session_factory=worker_context().triage.session_factory, reason=reason
    )
    log.error("ticket %s: %d attachments failed after their retries", ticket_id, failed)
    enqueue(extract_attachments.app, TASK_CLASSIFY, ticket_id)


@shared_task(
    name=TASK_MEDIA_EXTRACT,  # routed to QUEUE_MEDIA; time limits: settings.media_time_limit_s (+30 s)
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,  # a run that killed its worker is counted per attachment (attempts)
    max_retries=4,
    ignore_result=True,
)
@timed
@retrying(on=(OSError, OperationalError), give_up=_give_up)  # requests' errors are OSErrors
def extract_attachments(self: Task, ticket_id: str) -> str:
    outcome = read_attachments(ticket_id=ticket_id, context=worker_context().media)
    if outcome != MediaOutcome.MISSING:
        enqueue(self.app, TASK_CLASSIFY, ticket_id)
    return outcome
