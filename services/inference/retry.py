"""One retry policy for the tasks that give up on their own: retry any failure with exponential backoff
(2, 4, 8 … seconds, at most `RETRY_BACKOFF_MAX_S`); after `max_retries` a give-up hook gets the reason —
it marks the ticket or the job failed, or only logs when nothing depends on the task (shadow work) — and
the task returns "failed". Tasks whose only expected failure is the database's use Celery's own
`autoretry_for` instead (drafts, write-back)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

log = logging.getLogger(__name__)
RETRY_BACKOFF_MAX_S = 60
FAILED = "failed"


def retry_or_give_up(
    task: Task, exc: Exception, *, what: str, max_retries: int, give_up: Callable[[str], Any] | None = None
) -> str:
    """Raise Celery's Retry for `exc`, or — retries used up — call `give_up(reason)` and return "failed"."""
    retries = task.request.retries
    if retries >= max_retries:
        reason = f"{type(exc).__name__}: {exc}"
        log.error("%s failed after %d retries: %s", what, retries, reason)
        if give_up is not None:
            give_up(reason)
        return FAILED
    countdown = min(RETRY_BACKOFF_MAX_S, 2**retries)
    level = logging.ERROR if isinstance(exc, SoftTimeLimitExceeded) else logging.WARNING
    log.log(level, "%s: %s; retry %d in %ss", what, exc, retries + 1, countdown)
    raise task.retry(exc=exc, countdown=countdown) from exc
