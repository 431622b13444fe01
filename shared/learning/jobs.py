"""Batch jobs in storage (reclassification of stored tickets): create with chunks, progress, completion.
HTTP-agnostic; the gateway, the workers and the CLI use these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.db.base import utcnow
from shared.learning.models import Job, JobChunk, JobStatus
from shared.learning.schemas import JobView
from shared.tickets.models import Ticket

RECLASSIFY = "reclassify"


class EmptyJob(ValueError):
    """No ticket matches the job's range."""


def _ticket_ids(session: Session, since: datetime, until: datetime | None) -> list[str]:
    query = select(Ticket.id).where(Ticket.received_at >= since)
    if until is not None:
        query = query.where(Ticket.received_at < until)
    return list(session.scalars(query.order_by(Ticket.received_at, Ticket.id)))


def create_reclassify_job(
    *,
    session_factory: sessionmaker[Session],
    since: datetime,
    until: datetime | None,
    model_version: str,
    chunk_size: int,
) -> JobView:
    """Every ticket received in [since, until), in chunks of `chunk_size`, fixed at creation."""
    with session_scope(session_factory) as session:
        ids = _ticket_ids(session, since, until)
        if not ids:
            raise EmptyJob(f"no tickets received between {since.isoformat()} and {until or 'now'}")
        chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
        params = {
            "since": since.isoformat(),
            "until": until.isoformat() if until else None,
            "chunk_size": chunk_size,
        }
        job = Job(
            kind=RECLASSIFY,
            params=params,
            model_version=model_version,
            total_items=len(ids),
            total_chunks=len(chunks),
            status=JobStatus.RUNNING,
        )
        session.add(job)
        session.flush()
        session.add_all(JobChunk(job_id=job.id, position=i, item_ids=chunk) for i, chunk in enumerate(chunks))
        session.flush()
        return _view(job, 0, 0)  # just created: no chunk done


def _chunk_counts(job_id: Any) -> tuple[Any, Any]:
    """Done chunks and their processed items, as scalar subqueries of the job's own SELECT."""
    done = JobChunk.done.is_(True)
    count = select(func.count()).where(JobChunk.job_id == job_id, done)
    processed = select(func.coalesce(func.sum(JobChunk.processed), 0)).where(JobChunk.job_id == job_id, done)
    return count.scalar_subquery(), processed.scalar_subquery()


def _view(job: Job, done: int, processed: int) -> JobView:
    fields = {name: getattr(job, name) for name in ("id", "kind", "status", "params", "model_version")}
    return JobView(
        **fields,
        total_items=job.total_items,
        total_chunks=job.total_chunks,
        done_chunks=done,
        processed_items=processed,
        progress=done / job.total_chunks if job.total_chunks else 1.0,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def get_job(*, session_factory: sessionmaker[Session], job_id: str) -> JobView | None:
    """The job and its chunk counts read by one statement: one snapshot, so a reader never sees every chunk
    done and the job still running (on SQLite two statements of a read are two snapshots, and the last
    chunk's commit could fall between them)."""
    with session_scope(session_factory) as session:
        row = session.execute(select(Job, *_chunk_counts(Job.id)).where(Job.id == job_id)).first()
        return _view(row[0], row[1], row[2]) if row else None


def pending_chunks(*, session_factory: sessionmaker[Session], job_id: str) -> list[int]:
    """Positions not done yet: what a resume re-enqueues (finished chunks are never redone)."""
    with session_scope(session_factory) as session:
        query = select(JobChunk.position).where(JobChunk.job_id == job_id, JobChunk.done.is_(False))
        return list(session.scalars(query.order_by(JobChunk.position)))


def claim_chunk(
    *, session_factory: sessionmaker[Session], job_id: str, position: int
) -> dict[str, Any] | None:
    """The chunk's ticket ids and the job's model version, counting the attempt; None when already done."""
    with session_scope(session_factory) as session:
        chunk = session.scalars(
            select(JobChunk).where(JobChunk.job_id == job_id, JobChunk.position == position)
        ).first()
        if chunk is None or chunk.done:
            return None
        chunk.attempts += 1
        job = session.get(Job, job_id)
        return {"item_ids": list(chunk.item_ids), "model_version": job.model_version}  # type: ignore[union-attr]


def complete_chunk(session: Session, *, job_id: str, position: int, processed: int, seconds: float) -> bool:
    """Mark the chunk done and, when it was the last, the job, in the caller's transaction — the one that
    stores the chunk's results, so a worker killed in between leaves neither (a reader never sees every
    chunk done and the job still running either). The write comes first (SQLite takes its lock there),
    then the job's row is locked: two chunks completing at once are counted one after the other, the
    second seeing the first's. True when this completed the job."""
    session.execute(
        update(JobChunk)
        .where(JobChunk.job_id == job_id, JobChunk.position == position)
        .values(done=True, processed=processed, seconds=seconds, done_at=utcnow())
    )
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
    left = session.scalar(
        select(func.count()).select_from(JobChunk).where(JobChunk.job_id == job_id, JobChunk.done.is_(False))
    )
    if left or job is None or job.status != JobStatus.RUNNING:
        return False
    job.status, job.finished_at = JobStatus.DONE, utcnow()
    return True


def fail_job(*, session_factory: sessionmaker[Session], job_id: str, reason: str) -> None:
    with session_scope(session_factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
            .values(status=JobStatus.FAILED, error=reason[:2000], finished_at=utcnow())
        )


def reopen_job(*, session_factory: sessionmaker[Session], job_id: str) -> None:
    """A failed job resumed by an operator runs again (its finished chunks stay finished)."""
    with session_scope(session_factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.FAILED)
            .values(status=JobStatus.RUNNING, error=None, finished_at=None)
        )
