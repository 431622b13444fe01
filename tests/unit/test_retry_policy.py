"""The one retry policy (`services.inference.retry.retrying`) on a real Celery app, run eagerly: listed
exceptions are retried up to the task's `max_retries` (or `limit()`), then the give-up hook gets the task's
arguments and the reason; other exceptions propagate; a task's own `retry()` passes through. (Run eagerly,
Celery re-runs a retried task inside the first call: the tries are counted by what the task records.)"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from services.inference.retry import retrying


class Flaky(Exception):
    pass


def eager_app() -> Celery:
    app = Celery("retry-policy-test", set_as_current=False)
    app.conf.task_always_eager = True
    return app


def test_listed_exceptions_are_retried_then_given_up_with_the_tasks_arguments() -> None:
    app, calls, gave_up = eager_app(), [], []

    @app.task(bind=True, max_retries=3)
    @retrying(on=(Flaky,), give_up=lambda job, part, *, reason: gave_up.append((job, part, reason)))
    def work(self: Task, job: str, part: int) -> str:
        calls.append(self.request.retries)
        raise Flaky("broker hiccup")

    work.apply(args=["j1", 7])
    assert calls == [0, 1, 2, 3]  # the first try and three retries
    assert gave_up == [("j1", 7, "Flaky: broker hiccup")]


def test_a_limit_read_at_failure_time_wins_over_max_retries() -> None:
    app, calls = eager_app(), []

    @app.task(bind=True, max_retries=None)
    @retrying(limit=lambda: 1)
    def work(self: Task) -> str:
        calls.append(self.request.retries)
        if self.request.retries < 5:
            raise RuntimeError("boom")
        return "ok"

    work.apply()
    assert calls == [0, 1]


def test_unlisted_exceptions_propagate_and_a_retried_task_can_succeed() -> None:
    app, calls, done = eager_app(), [], []

    @app.task(bind=True, max_retries=5)
    @retrying(on=(Flaky,))
    def work(self: Task, fail_with: str) -> Any:
        calls.append(self.request.retries)
        if fail_with == "value":
            raise ValueError("not listed")
        if self.request.retries == 0:
            raise Flaky("once")
        done.append("done")
        return "done"

    failed = work.apply(args=["value"])
    assert failed.state == "FAILURE" and isinstance(failed.result, ValueError)
    work.apply(args=["flaky"])
    assert calls == [0, 0, 1] and done == ["done"]


def test_the_tasks_own_retry_passes_through_the_policy() -> None:
    app, calls = eager_app(), []

    @app.task(bind=True, max_retries=None)
    @retrying(on=(Flaky,), limit=lambda: 0)
    def work(self: Task) -> str:
        calls.append(self.request.retries)
        if self.request.retries < 2:
            raise self.retry(countdown=0)  # e.g. a helpdesk's Retry-After: not counted by the policy
        return "sent"

    work.apply()
    assert calls == [0, 1, 2]
