"""The drafting tasks: `drafts` (after classification) and `shadow_drafts` (after the active draft, when the
generators' registry names a shadow) — thin wrappers over `draft_reply` and `shadow_draft`."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from services.inference.context import worker_context
from services.inference.drafting import draft_reply
from services.inference.model_holder import ModelUnavailable
from services.inference.pipeline import after_draft
from services.inference.retry import retrying
from services.inference.shadow_drafting import shadow_draft
from services.inference.tasks import timed
from shared.celery_app import TASK_DRAFT, TASK_SHADOW_DRAFT

log = logging.getLogger(__name__)


@shared_task(
    name=TASK_DRAFT,  # routed to QUEUE_DRAFTS by task_routes in shared.celery_app
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    ignore_result=True,
)
@timed
@retrying(on=(OperationalError,))
def generate_draft(self: Task, ticket_id: str) -> str:
    context = worker_context()
    try:
        outcome: str = draft_reply(ticket_id=ticket_id, context=context.drafts)
    except ModelUnavailable as exc:  # no generator (or encoder) set up: triage works without drafts
        log.info("no draft for ticket %s: %s", ticket_id, exc)
        outcome = "no_generator"
    after_draft(self.app, context, ticket_id, outcome)
    return outcome


@shared_task(
    name=TASK_SHADOW_DRAFT,  # routed to QUEUE_SHADOW_DRAFTS
    bind=True,
    acks_late=True,
    max_retries=3,
    ignore_result=True,
)
@retrying(on=(OperationalError,))
def generate_shadow_draft(self: Task, ticket_id: str) -> str:
    """A shadow draft never touches the ticket: a failure other than the database's is logged, not retried."""
    try:
        return str(shadow_draft(ticket_id=ticket_id, context=worker_context().shadow_drafts))
    except OperationalError:
        raise
    except Exception as exc:
        log.warning("shadow draft of ticket %s given up: %s: %s", ticket_id, type(exc).__name__, exc)
        return "failed"
