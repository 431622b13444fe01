"""Read a solved ticket's final tags from its helpdesk and set the resolution's final label.

Zammad's default webhook payload carries no tags, so the gateway records the resolution without a label
and stages this job (`helploop.writeback.resolution_labels`, queue `callbacks`). The job reads the
ticket's tags with the integration's credentials (`GET /api/v1/tags?object=Ticket&o_id=<id>`), takes the
`helploop_intent_<label>` tag agents keep or correct, and updates `final_labels["label"]` and `correct`.
429/5xx/network errors → retried with the write-back backoff (up to the write-back attempts); a 404 (the
ticket is gone) or any other 4xx → given up, logged. Credentials travel in the call only, never in logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from services.inference.writeback.clients import TAG_READERS
from services.inference.writeback.delivery import (
    Permanent,
    Retryable,
    WritebackContext,
    backoff_delay,
    call_api,
)
from shared.db import session_scope
from shared.integrations.models import Resolution
from shared.integrations.tags import intent_from_tags
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)


class LabelsOutcome(StrEnum):
    UPDATED = "updated"  # the final label set from the helpdesk's intent tag
    NO_INTENT_TAG = "no_intent_tag"  # no helploop_intent_* tag: the resolution stays unlabelled
    RETRY = "retry"
    GAVE_UP = "gave_up"  # 404, another 4xx, an unreadable answer, out of attempts, integration gone
    NOTHING_TO_DO = "nothing_to_do"  # no such ticket or no resolution for it


@dataclass(frozen=True)
class LabelsResult:
    outcome: LabelsOutcome
    label: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class _Target:
    integration: str
    external_id: str


def _target(context: WritebackContext, ticket_id: str) -> _Target | None:
    with session_scope(context.session_factory) as session:
        ticket = session.get(Ticket, ticket_id)
        query = select(Resolution.id).where(Resolution.ticket_id == ticket_id)
        if ticket is None or session.scalar(query) is None:
            return None
        return _Target(ticket.source, ticket.external_id)


def _tags(document: Any) -> list[str]:
    tags = document.get("tags") if isinstance(document, dict) else None
    if not isinstance(tags, list):
        raise Permanent("the tags API answered without a `tags` list")
    return [str(tag) for tag in tags]


def _store(context: WritebackContext, ticket_id: str, labels: dict[str, str]) -> bool | None:
    """Merge the labels into the resolution and recompute `correct`; returns `correct`."""
    with session_scope(context.session_factory) as session:
        query = select(Resolution).where(Resolution.ticket_id == ticket_id).with_for_update()
        row = session.scalars(query).first()
        if row is None:
            return None
        row.final_labels = {**row.final_labels, **labels}
        final = row.final_labels.get("label")
        row.correct = (final == row.predicted_label) if (final and row.predicted_label) else None
        return row.correct


def _given_up(ticket_id: str, integration: str, reason: str) -> LabelsResult:
    log.error("final labels of ticket %s from %s: given up (%s)", ticket_id, integration, reason)
    return LabelsResult(LabelsOutcome.GAVE_UP)


def fetch_final_labels(*, ticket_id: str, attempt: int, context: WritebackContext) -> LabelsResult:
    """One try (`attempt` counts the tries before this one) to read the ticket's tags and label it."""
    target = _target(context, ticket_id)
    if target is None:
        log.warning("final labels: ticket %s has no resolution; nothing to do", ticket_id)
        return LabelsResult(LabelsOutcome.NOTHING_TO_DO)
    integration = context.integrations.get(target.integration)
    if integration is None or integration.provider not in TAG_READERS:
        return _given_up(ticket_id, target.integration, "no tags API configured for that integration")
    call = TAG_READERS[integration.provider](integration, target.external_id)
    try:
        tags = _tags(call_api(context, call).json())
    except Retryable as exc:
        return _retry_or_give_up(context, ticket_id, target, attempt + 1, exc)
    except Permanent as exc:
        if exc.status == 404:
            return _given_up(ticket_id, target.integration, f"no ticket {target.external_id} there: 404")
        return _given_up(ticket_id, target.integration, str(exc))
    except ValueError:  # the body is not JSON
        return _given_up(ticket_id, target.integration, "the tags API answered no JSON")
    labels = intent_from_tags(tags)
    if not labels:
        log.info("final labels of ticket %s: no intent tag among %d tag(s)", ticket_id, len(tags))
        return LabelsResult(LabelsOutcome.NO_INTENT_TAG)
    correct = _store(context, ticket_id, labels)
    log.info(
        "final label of ticket %s from %s: %s (correct=%s)",
        ticket_id,
        target.integration,
        labels["label"],
        correct,
    )
    return LabelsResult(LabelsOutcome.UPDATED, labels["label"])


def _retry_or_give_up(
    context: WritebackContext, ticket_id: str, target: _Target, attempts: int, exc: Retryable
) -> LabelsResult:
    if attempts >= context.max_attempts:
        return _given_up(ticket_id, target.integration, f"after {attempts} attempts: {exc}")
    delay = backoff_delay(
        attempts, base_s=context.backoff_base_s, max_s=context.backoff_max_s, retry_after=exc.retry_after
    )
    log.warning(
        "final labels of ticket %s: attempt %d failed (%s); retry in %.1fs", ticket_id, attempts, exc, delay
    )
    return LabelsResult(LabelsOutcome.RETRY, delay_s=delay)
