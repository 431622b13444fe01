"""The drafting task (queue `drafts`, after classification): a thin wrapper over `draft_reply`."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from services.inference.context import worker_context
from services.inference.drafting import DraftOutcome, draft_reply
from services.inference.model_holder import ModelUnavailable
from services.inference.tasks import route_and_write_back, timed
from shared.celery_app import TASK_DRAFT

log = logging.getLogger(__name__)


@shared_task(
    name=TASK_DRAFT,  # routed to QUEUE_DRAFTS by task_routes in shared.celery_app
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    ignore_result=True,
)
@timed
def generate_draft(self: Task, ticket_id: str) -> str:
    context = worker_context()
    try:
        outcome: str = draft_reply(ticket_id=ticket_id, context=context.drafts)
    except ModelUnavailable as exc:  # no generator (or encoder) set up: triage works without drafts
        log.info("no draft for ticket %s: %s", ticket_id, exc)
        outcome = "no_generator"
    if outcome not in (DraftOutcome.MISSING, DraftOutcome.NOT_CLASSIFIED):
        route_and_write_back(self, context, ticket_id)  # without a draft the route is never auto-reply
    return outcome
