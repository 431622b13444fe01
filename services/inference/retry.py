"""The one retry policy of the inference tasks, in the Sentry style: `@retrying(on=…)` under `@shared_task`
retries the listed exceptions with exponential backoff (2, 4, 8 … seconds, at most `RETRY_BACKOFF_MAX_S`) up
to the task's `max_retries` (or `limit()`, read when a failure happens: a setting); then a give-up hook gets
the task's arguments and the reason — it marks the ticket or the job failed, or is absent when nothing
depends on the task (shadow work) — and the task returns "failed". Other exceptions propagate (Celery
records them); a task's own `self.retry(countdown=…)` (a helpdesk's Retry-After) passes through."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded

log = logging.getLogger(__name__)
RETRY_BACKOFF_MAX_S = 60
FAILED = "failed"
F = TypeVar("F", bound=Callable[..., Any])


def retry_or_give_up(
    task: Task,
    exc: Exception,
    *,
    what: str,
    max_retries: int | None,
    give_up: Callable[[str], Any] | None = None,
) -> str:
    """Raise Celery's Retry for `exc`, or — `max_retries` used up (None: never) — call `give_up(reason)`
    and return "failed"."""
    retries = task.request.retries
    if max_retries is not None and retries >= max_retries:
        reason = f"{type(exc).__name__}: {exc}"
        log.error("%s failed after %d retries: %s", what, retries, reason)
        if give_up is not None:
            give_up(reason)
        return FAILED
    countdown = min(RETRY_BACKOFF_MAX_S, 2**retries)
    level = logging.ERROR if isinstance(exc, SoftTimeLimitExceeded) else logging.WARNING
    log.log(level, "%s: %s; retry %d in %ss", what, exc, retries + 1, countdown)
    raise task.retry(exc=exc, countdown=countdown, max_retries=max_retries) from exc


def retrying(
    *,
    on: tuple[type[Exception], ...] = (Exception,),
    limit: Callable[[], int] | None = None,
    give_up: Callable[..., Any] | None = None,
) -> Callable[[F], F]:
    """Decorate a bound task function with the policy; `give_up(*task_args, reason=…)`."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(task: Task, *args: Any, **kwargs: Any) -> Any:
            try:
                return func(task, *args, **kwargs)
            except Retry:
                raise
            except on as exc:
                bound = limit() if limit is not None else task.max_retries
                hook = None if give_up is None else functools.partial(_give_up, give_up, args, kwargs)
                what = f"{task.name}{tuple(args)!r}"
                return retry_or_give_up(task, exc, what=what, max_retries=bound, give_up=hook)

        return wrapper  # type: ignore[return-value]

    return decorate


def _give_up(hook: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], reason: str) -> None:
    hook(*args, reason=reason, **kwargs)
