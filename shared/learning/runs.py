"""Training runs in storage: create (one open at a time), start, finish, read. HTTP-agnostic; the gateway,
the training worker and the CLI all use these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.learning.models import OPEN_RUN_STATUSES, RunStatus, TrainingRun
from shared.learning.schemas import TrainingRunView


class RunInProgress(Exception):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"training run {run_id} is already queued or running")
        self.run_id = run_id


def view(row: TrainingRun, *, with_report: bool = False) -> TrainingRunView:
    fields = {name: getattr(row, name) for name in TrainingRunView.model_fields if name != "report"}
    return TrainingRunView(**fields, report=row.report if with_report else None)


def create_run(
    *,
    session_factory: sessionmaker[Session],
    trigger: str,
    options: dict[str, Any],
    stale_after_s: float,
    stage: Callable[[Session, str], object] | None = None,
) -> TrainingRunView:
    """A queued run; refused while another is open (one requested within `stale_after_s` — older open runs
    belong to a worker that died, and are marked failed here). `stage(session, run_id)` runs in the same
    transaction (the gateway stages the run's outbox message there)."""
    now = utcnow()
    with session_scope(session_factory) as session:
        open_runs = session.scalars(
            select(TrainingRun).where(TrainingRun.status.in_(OPEN_RUN_STATUSES)).with_for_update()
        ).all()
        for run in open_runs:
            if now - run.requested_at < timedelta(seconds=stale_after_s):
                raise RunInProgress(run.id)
            run.status, run.error, run.finished_at = RunStatus.FAILED, "abandoned: no progress in time", now
        row = TrainingRun(trigger=trigger, options=options, reasons=[], status=RunStatus.QUEUED)
        session.add(row)
        session.flush()
        if stage is not None:
            stage(session, row.id)
        return view(row)


def start_run(*, session_factory: sessionmaker[Session], run_id: str) -> dict[str, Any] | None:
    """queued → running; returns the run's options, or None when it is not queued (a redelivery)."""
    with session_scope(session_factory) as session:
        changed = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.QUEUED)
            .values(status=RunStatus.RUNNING, started_at=utcnow())
        ).rowcount
        if not changed:
            return None
        return dict(session.get(TrainingRun, run_id).options)  # type: ignore[union-attr]


def finish_run(*, session_factory: sessionmaker[Session], run_id: str, status: str, **values: Any) -> None:
    with session_scope(session_factory) as session:
        session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id)
            .values(status=status, finished_at=utcnow(), **values)
        )


def get_run(*, session_factory: sessionmaker[Session], run_id: str) -> TrainingRunView | None:
    with session_scope(session_factory) as session:
        row = session.get(TrainingRun, run_id)
        return view(row, with_report=True) if row else None


def list_runs(*, session_factory: sessionmaker[Session], limit: int = 50) -> list[TrainingRunView]:
    with session_scope(session_factory) as session:
        rows = session.scalars(select(TrainingRun).order_by(TrainingRun.requested_at.desc()).limit(limit))
        return [view(row) for row in rows]
