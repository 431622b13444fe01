"""Re-enqueue tickets waiting for triage, and write-backs pending, too long: the safety net behind
at-least-once delivery.

A message can still vanish (a worker killed between taking it from Redis and recording it as unacked,
an enqueue that failed at intake and was never retried by the helpdesk). Every worker's parent process
checks the database on a timer; classification is idempotent, so a duplicate costs one lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import bootsteps
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.celery_app import TASK_CLASSIFY, TASK_WRITEBACK, settings_of
from shared.celery_app import enqueue as enqueue_task
from shared.db import build_engine, build_session_factory, session_scope
from shared.db.base import utcnow
from shared.integrations.models import Delivery, DeliveryStatus
from shared.routing.models import RoutingDecision
from shared.tickets.lifecycle import WAITING, mark_queued
from shared.tickets.models import Ticket, TicketStatus

log = logging.getLogger(__name__)


def requeue_stale(
    *,
    session_factory: sessionmaker[Session],
    enqueue: Callable[[str], None],
    stale_after_s: float,
    limit: int = 200,
) -> list[str]:
    """Enqueue again every ticket still waiting `stale_after_s` after its last enqueue (or receipt)."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    last_enqueued = func.coalesce(Ticket.queued_at, Ticket.received_at)
    with session_scope(session_factory) as session:
        ids = list(
            session.scalars(
                select(Ticket.id)
                .where(Ticket.status.in_(WAITING), last_enqueued < cutoff)
                .order_by(Ticket.received_at)
                .limit(limit)
            )
        )
    for ticket_id in ids:
        enqueue(ticket_id)
        with session_scope(session_factory) as session:
            mark_queued(session, [ticket_id], again=True)
    if ids:
        log.warning("re-enqueued %d ticket(s) waiting longer than %.0fs for triage", len(ids), stale_after_s)
    return ids


def requeue_stale_deliveries(
    *,
    session_factory: sessionmaker[Session],
    enqueue: Callable[[int], None],
    stale_after_s: float,
    limit: int = 200,
) -> list[int]:
    """Enqueue again every write-back still pending `stale_after_s` after it was due (a lost message);
    the delivery itself guards against double posting."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    due = func.coalesce(Delivery.next_attempt_at, Delivery.created_at)
    with session_scope(session_factory) as session:
        query = select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING, due < cutoff)
        ids = list(session.scalars(query.order_by(Delivery.id).limit(limit)))
        if ids:
            session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(next_attempt_at=utcnow()))
    for delivery_id in ids:
        enqueue(delivery_id)
    if ids:
        log.warning("re-enqueued %d write-back(s) pending longer than %.0fs", len(ids), stale_after_s)
    return ids


UNROUTED_WINDOW_S = 86400.0  # older triaged tickets without a route predate routing: never re-routed


def requeue_unrouted(
    *,
    session_factory: sessionmaker[Session],
    enqueue: Callable[[str], None],
    stale_after_s: float,
    limit: int = 200,
) -> list[str]:
    """Enqueue again tickets triaged `stale_after_s` ago that have no route yet: their task died (or its
    message was lost with Redis) between the committed classification and the routing decision. The task
    finds the classification done and routes (routing and deliveries are idempotent)."""
    now = utcnow()
    routed = select(RoutingDecision.id).where(RoutingDecision.ticket_id == Ticket.id).exists()
    query = select(Ticket.id).where(
        Ticket.status == TicketStatus.TRIAGED,
        Ticket.triaged_at < now - timedelta(seconds=stale_after_s),
        Ticket.triaged_at > now - timedelta(seconds=UNROUTED_WINDOW_S),
        ~routed,
    )
    with session_scope(session_factory) as session:
        ids = list(session.scalars(query.order_by(Ticket.triaged_at).limit(limit)))
    for ticket_id in ids:
        enqueue(ticket_id)
    if ids:
        log.warning("re-enqueued %d triaged ticket(s) never routed", len(ids))
    return ids


class StaleTicketSweeper(bootsteps.StartStopStep):
    """Runs `requeue_stale` on the worker's timer, in the parent process (no model, unpooled DB)."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.settings = settings_of(worker.app)
        self.factory: sessionmaker[Session] | None = None
        self.entry: Any = None

    def start(self, worker: Any) -> None:
        self.factory = build_session_factory(build_engine(self.settings.database_url, pooled=False))
        self.entry = worker.timer.call_repeatedly(self.settings.stale_sweep_interval_s, self.sweep, (worker,))

    def stop(self, worker: Any) -> None:
        if self.entry is not None:
            self.entry.cancel()

    def sweep(self, worker: Any) -> None:
        def enqueue(ticket_id: str) -> None:
            enqueue_task(worker.app, TASK_CLASSIFY, ticket_id)

        def enqueue_delivery(delivery_id: int) -> None:
            enqueue_task(worker.app, TASK_WRITEBACK, delivery_id)

        try:
            assert self.factory is not None
            stale_after_s = self.settings.stale_requeue_after_s
            requeue_stale(session_factory=self.factory, enqueue=enqueue, stale_after_s=stale_after_s)
            requeue_unrouted(session_factory=self.factory, enqueue=enqueue, stale_after_s=stale_after_s)
            requeue_stale_deliveries(
                session_factory=self.factory, enqueue=enqueue_delivery, stale_after_s=stale_after_s
            )
        except Exception:  # the next tick tries again; a sweep must never take the worker down
            log.exception("stale-ticket sweep failed")
