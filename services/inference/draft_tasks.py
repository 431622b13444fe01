"""The drafting tasks: `drafts` (after classification) and `shadow_drafts` (after the active draft, when the
generators' registry names a shadow) — thin wrappers over `draft_reply` and `shadow_draft`."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from services.inference.context import worker_context
from services.inference.drafting import DraftOutcome, draft_reply
from services.inference.model_holder import ModelUnavailable
from services.inference.shadow_drafting import shadow_draft
from services.inference.tasks import route_and_write_back, timed
from shared.celery_app import TASK_DRAFT, TASK_SHADOW_DRAFT, enqueue

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
    if outcome == DraftOutcome.DRAFTED and context.shadow_drafts.registry.shadow_version():
        enqueue(self.app, TASK_SHADOW_DRAFT, ticket_id)
    return outcome


@shared_task(
    name=TASK_SHADOW_DRAFT,  # routed to QUEUE_SHADOW_DRAFTS
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
    ignore_result=True,
)
def generate_shadow_draft(self: Task, ticket_id: str) -> str:
    """A shadow draft never touches the ticket: a failure other than the database's is logged, not retried."""
    try:
        return str(shadow_draft(ticket_id=ticket_id, context=worker_context().shadow_drafts))
    except OperationalError:
        raise
    except Exception as exc:
        log.warning("shadow draft of ticket %s given up: %s: %s", ticket_id, type(exc).__name__, exc)
        return "failed"
