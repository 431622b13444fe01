"""Storage of the learning loop: training runs, batch jobs with their chunks, shadow predictions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, new_id, utcnow


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PROMOTED = "promoted"  # passed the gate and activated
    SHADOW = "shadow"  # passed the gate and runs in shadow, as asked
    PASSED = "passed"  # passed the gate, left as a candidate, as asked
    REJECTED = "rejected"  # failed the gate: nothing changed in production
    SKIPPED = "skipped"  # nothing new to learn from, or another run held the lock
    FAILED = "failed"


OPEN_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class TrainingRun(Base):
    __tablename__ = "training_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    trigger: Mapped[str] = mapped_column(String(16))  # manual | schedule
    status: Mapped[str] = mapped_column(String(16), index=True, default=RunStatus.QUEUED)
    options: Mapped[dict[str, Any]]
    active_version: Mapped[str | None] = mapped_column(String(64))  # the model it was compared with
    candidate_version: Mapped[str | None] = mapped_column(String(64))
    reasons: Mapped[list[Any]]
    dataset: Mapped[dict[str, Any] | None]
    report: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """A batch job (reclassification of stored tickets), split into chunks done independently."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True, default=JobStatus.RUNNING)
    params: Mapped[dict[str, Any]]
    model_version: Mapped[str] = mapped_column(String(64))
    total_items: Mapped[int] = mapped_column(Integer)
    total_chunks: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class JobChunk(Base):
    __tablename__ = "job_chunks"
    __table_args__ = (UniqueConstraint("job_id", "position", name="uq_job_chunks_job_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_ids: Mapped[list[Any]]
    done: Mapped[bool] = mapped_column(default=False, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float | None] = mapped_column(Float)
    done_at: Mapped[datetime | None]


class ShadowPrediction(Base):
    """A shadow model's prediction on a live ticket, beside what the active model said."""

    __tablename__ = "shadow_predictions"
    __table_args__ = (UniqueConstraint("ticket_id", "model_version", name="uq_shadow_ticket_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    heads: Mapped[dict[str, Any]]
    active_version: Mapped[str] = mapped_column(String(64))
    active_label: Mapped[str] = mapped_column(String(100))
    inference_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
