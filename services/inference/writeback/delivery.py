"""Deliver one write-back: the plain function behind the `callbacks` task.

At-least-once with no duplicates: the attempt is recorded before any call; an attempt that follows an
earlier one (whose outcome may be unknown: a crash between "posted" and "recorded") first lists what the
ticket already has and skips the post when this delivery's marker is there. 2xx → sent; 429/5xx/network
errors → retry with exponential backoff and jitter (a `Retry-After` is honoured); any other 4xx → dead at
once; out of attempts → dead. Credentials travel in the calls only, never in logs or errors.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from services.inference.writeback.clients import PLANNERS, HttpCall, Plan, find_posted
from shared.db import session_scope
from shared.db.base import utcnow
from shared.integrations.config import Integration
from shared.integrations.models import Delivery, DeliveryStatus
from shared.metrics import WRITEBACK_ATTEMPTS, WRITEBACK_DEAD_LETTERS

log = logging.getLogger(__name__)


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    ALREADY_POSTED = "already_posted"  # found on the helpdesk after an interrupted attempt
    RETRY = "retry"
    DEAD = "dead"
    NOTHING_TO_DO = "nothing_to_do"  # missing, already sent or dead


@dataclass(frozen=True)
class DeliveryResult:
    outcome: DeliveryOutcome
    delay_s: float = 0.0


@dataclass
class WritebackContext:
    session_factory: sessionmaker[Session]
    integrations: dict[str, Integration]
    http: requests.Session
    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    timeout_s: float = 10.0


class Retryable(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


class Permanent(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, *, base_s: float, max_s: float, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(max_s, retry_after)
    return min(max_s, base_s * 2 ** max(attempt - 1, 0)) * random.uniform(0.5, 1.0)


def call_api(context: WritebackContext, call: HttpCall) -> requests.Response:
    """One helpdesk API call: 2xx → the response; 429/5xx/network → Retryable; other 4xx → Permanent."""
    try:
        response = context.http.request(
            call.method,
            call.url,
            data=call.body,
            headers=call.headers,
            auth=call.auth,
            timeout=context.timeout_s,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise Retryable(f"{call.method} {call.url}: {type(exc).__name__}") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    summary = f"{call.method} {call.url} → {status}: {response.text[:200]}"
    if status == 429 or status >= 500:
        raise Retryable(summary, status, retry_after_seconds(response.headers.get("Retry-After")))
    raise Permanent(summary, status)


def _remote_id(response: requests.Response) -> str | None:
    try:
        document: Any = response.json()
    except ValueError:
        return None
    if isinstance(document, dict):
        if isinstance(document.get("id"), int | str):
            return str(document["id"])
        inner = document.get("ticket") or {}  # Zendesk answers a ticket update with the ticket
        if isinstance(inner, dict) and inner.get("id") is not None:
            return str(inner["id"])
    return None


def _execute(
    context: WritebackContext, plan: Plan, earlier_attempt: bool
) -> tuple[DeliveryOutcome, str | None]:
    if earlier_attempt and plan.lookup is not None:
        listing = call_api(context, plan.lookup)
        try:
            found = find_posted(listing.json(), plan.needle)
        except ValueError:
            found = None
        if found is not None:
            for call in plan.followups:
                call_api(context, call)
            return DeliveryOutcome.ALREADY_POSTED, found
    remote_id = _remote_id(call_api(context, plan.primary))
    for call in plan.followups:
        call_api(context, call)
    return DeliveryOutcome.SENT, remote_id


def _start_attempt(context: WritebackContext, delivery_id: int) -> tuple[Delivery, int] | None:
    """Record the attempt before any call; returns a detached copy and the attempts made before."""
    with session_scope(context.session_factory) as session:
        row = session.get(Delivery, delivery_id, with_for_update=True)
        if row is None or row.status != DeliveryStatus.PENDING:
            return None
        before = row.attempts
        row.attempts = before + 1
        session.flush()
        session.expunge(row)
    return row, before


def _finish(context: WritebackContext, delivery_id: int, **values: Any) -> None:
    with session_scope(context.session_factory) as session:
        row = session.get(Delivery, delivery_id)
        if row is not None:
            for name, value in values.items():
                setattr(row, name, value)


def _count(provider: str, outcome: str) -> None:
    WRITEBACK_ATTEMPTS.labels(provider, outcome).inc()
    if outcome == "dead":
        WRITEBACK_DEAD_LETTERS.labels(provider).inc()


def deliver(*, delivery_id: int, context: WritebackContext) -> DeliveryResult:
    started = _start_attempt(context, delivery_id)
    if started is None:
        return DeliveryResult(DeliveryOutcome.NOTHING_TO_DO)
    delivery, before = started
    integration = context.integrations.get(delivery.integration)
    if integration is None:
        reason = f"integration {delivery.integration!r} is no longer configured"
        _finish(context, delivery_id, status=DeliveryStatus.DEAD, last_error=reason)
        _count(delivery.provider, "dead")
        log.error("delivery %s dead: %s", delivery_id, reason)
        return DeliveryResult(DeliveryOutcome.DEAD)
    plan = PLANNERS[integration.provider](integration, delivery.kind, delivery.payload)
    try:
        outcome, remote_id = _execute(context, plan, earlier_attempt=before > 0)
    except Retryable as exc:
        return _retry_or_die(context, delivery, exc)
    except Permanent as exc:
        _finish(
            context, delivery_id, status=DeliveryStatus.DEAD, last_status_code=exc.status, last_error=str(exc)
        )
        _count(delivery.provider, "dead")
        log.error("delivery %s to %s dead (no retry on %s)", delivery_id, delivery.integration, exc.status)
        return DeliveryResult(DeliveryOutcome.DEAD)
    _finish(
        context,
        delivery_id,
        status=DeliveryStatus.SENT,
        sent_at=utcnow(),
        remote_id=remote_id,
        last_error=None,
        next_attempt_at=None,
    )
    _count(delivery.provider, "sent")
    log.info("delivery %s (%s %s) %s", delivery_id, delivery.integration, delivery.kind, outcome)
    return DeliveryResult(outcome)


def _retry_or_die(context: WritebackContext, delivery: Delivery, exc: Retryable) -> DeliveryResult:
    if delivery.attempts >= context.max_attempts:
        _finish(
            context,
            delivery.id,
            status=DeliveryStatus.DEAD,
            last_status_code=exc.status,
            last_error=f"gave up after {delivery.attempts} attempts: {exc}",
        )
        _count(delivery.provider, "dead")
        log.error("delivery %s dead after %d attempts: %s", delivery.id, delivery.attempts, exc)
        return DeliveryResult(DeliveryOutcome.DEAD)
    _count(delivery.provider, "retry")
    delay = backoff_delay(
        delivery.attempts,
        base_s=context.backoff_base_s,
        max_s=context.backoff_max_s,
        retry_after=exc.retry_after,
    )
    _finish(
        context,
        delivery.id,
        last_status_code=exc.status,
        last_error=str(exc),
        next_attempt_at=utcnow() + timedelta(seconds=delay),
    )
    log.warning(
        "delivery %s attempt %d failed (%s); retry in %.1fs", delivery.id, delivery.attempts, exc, delay
    )
    return DeliveryResult(DeliveryOutcome.RETRY, delay)
