"""What follows each step of a ticket, in one place (the tasks call these after their plain function):

    classify ──▶ draft (drafts enabled) ──▶ route + write-back
        │          └──▶ shadow draft (while a generator runs in shadow)
        ├──▶ route + write-back (drafts disabled)
        └──▶ shadow prediction (while a classifier runs in shadow; new results only)
    read attachments (beside classify) ──▶ classify again: their text weighed (`weighing`)

A ticket whose attachments are still being read is classified at once, but its draft and route wait for
them, at most `media_wait_s` after the ticket came: classification is enqueued again for then (and by the
attachments task when it finishes), and whichever comes first goes on.

Every next step is a task enqueued by name (`shared.celery_app.enqueue`, the queue from the routes table);
routing runs in the task that finished the step before it, and enqueues the write-back deliveries."""

from __future__ import annotations

from celery import Celery

from services.inference.context import WorkerContext
from services.inference.drafting import DraftOutcome
from services.inference.routing import route_ticket
from services.inference.triage import Outcome
from services.inference.weighing import attachment_wait_s
from shared.celery_app import (
    TASK_CLASSIFY,
    TASK_DRAFT,
    TASK_SHADOW,
    TASK_SHADOW_DRAFT,
    TASK_WRITEBACK,
    enqueue,
)


def after_classification(
    app: Celery, context: WorkerContext, ticket_id: str, outcome: str, deliveries: tuple[int, ...] = ()
) -> None:
    """A classified ticket is drafted (which routes it) or, drafts disabled, routed here — unless it was
    routed with its result (ROUTED: only its `deliveries` go out); a new result is also predicted by the
    classifier in shadow, if any. A failure in routing raises: the task retries, finds the classification
    done and routes again (a ROUTED ticket's retry finds its decision and sends what is still pending)."""
    if outcome == Outcome.ROUTED:
        for delivery_id in deliveries:
            enqueue(app, TASK_WRITEBACK, delivery_id)
        _shadow(app, context, ticket_id)
        return
    if outcome not in (Outcome.CLASSIFIED, Outcome.ALREADY_DONE, Outcome.RECLASSIFIED):
        return
    wait = attachment_wait_s(context.triage.session_factory, ticket_id, wait_s=context.settings.media_wait_s)
    if wait > 0:  # the attachments task enqueues classification when it is done; this is the deadline
        if outcome == Outcome.CLASSIFIED:
            enqueue(app, TASK_CLASSIFY, ticket_id, countdown=wait)
        return
    if context.settings.drafts_enabled:
        enqueue(app, TASK_DRAFT, ticket_id)
    else:
        route_and_write_back(app, context, ticket_id)
    if outcome == Outcome.CLASSIFIED:
        _shadow(app, context, ticket_id)


def _shadow(app: Celery, context: WorkerContext, ticket_id: str) -> None:
    """A new result is predicted again by the classifier in shadow, while one runs."""
    if context.triage.model.registry.shadow_version():
        enqueue(app, TASK_SHADOW, ticket_id)


def after_draft(app: Celery, context: WorkerContext, ticket_id: str, outcome: str) -> None:
    """A ticket with or without a draft is routed (without one the route is never auto-reply); a new draft
    is drafted again by the generator in shadow, if any."""
    if outcome in (DraftOutcome.MISSING, DraftOutcome.NOT_CLASSIFIED):
        return
    route_and_write_back(app, context, ticket_id)
    if outcome == DraftOutcome.DRAFTED and context.shadow_drafts.registry.shadow_version():
        enqueue(app, TASK_SHADOW_DRAFT, ticket_id)


def route_and_write_back(app: Celery, context: WorkerContext, ticket_id: str) -> None:
    """Decide the route (idempotent) and enqueue the write-back deliveries still pending."""
    for delivery_id in route_ticket(ticket_id=ticket_id, context=context.routing):
        enqueue(app, TASK_WRITEBACK, delivery_id)
