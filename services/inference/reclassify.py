"""Reclassify one chunk of a batch job with the job's model version: the plain function behind the task.

Idempotent at two levels: a finished chunk is never redone (its row says so), and within a chunk a ticket
that already has a result from this model version is skipped (the unique (ticket, version) key). Results
are added beside the earlier ones; nothing is re-routed or written back to the helpdesk.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services.inference.model_holder import ClassifierVersions
from services.inference.triage import build_result_row, unsaved_copy
from shared.db import session_scope
from shared.learning.jobs import claim_chunk, complete_chunk
from shared.metrics import RECLASSIFIED
from shared.runtime.language import detect_language
from shared.tickets.models import Ticket, TriageResult

log = logging.getLogger(__name__)


@dataclass
class BatchContext:
    session_factory: sessionmaker[Session]
    versions: ClassifierVersions
    top_k: int = 3
    batch_size: int = 32  # texts per onnxruntime call


@dataclass(frozen=True)
class ChunkOutcome:
    processed: int  # tickets given a result now
    skipped: int  # already had a result from this version
    seconds: float
    job_done: bool


def _todo(session: Session, ids: list[str], version: str) -> list[tuple[str, str, int]]:
    """(ticket id, what the models read — attachments' text included, how many attachments it holds)."""
    done = set(
        session.scalars(
            select(TriageResult.ticket_id).where(
                TriageResult.ticket_id.in_(ids), TriageResult.model_version == version
            )
        )
    )
    query = select(Ticket).where(Ticket.id.in_(ids)).options(selectinload(Ticket.attachments))
    tickets = session.scalars(query).all()
    return [(t.id, t.text, len(t.read_attachments)) for t in tickets if t.id not in done]


def _store_and_complete(
    context: BatchContext, rows: list[TriageResult], job_id: str, position: int, started: float
) -> bool:
    """The chunk's results and its completion in one transaction: a worker killed before the commit
    leaves neither (the redelivered chunk is done whole), after it both. When another worker stored some
    of these tickets meanwhile (the unique key), the rest are stored one by one, then the chunk completed.
    True when this completed the job."""

    def complete(session: Session, processed: int) -> bool:
        seconds = time.perf_counter() - started
        return complete_chunk(session, job_id=job_id, position=position, processed=processed, seconds=seconds)

    try:
        with session_scope(context.session_factory) as session:
            session.add_all(rows)
            session.flush()
            return complete(session, len(rows))
    except IntegrityError:
        stored = 0
        for row in [unsaved_copy(row) for row in rows]:
            try:
                with session_scope(context.session_factory) as session:
                    session.add(row)
                stored += 1
            except IntegrityError:
                continue
        with session_scope(context.session_factory) as session:
            return complete(session, stored)


def reclassify_chunk(*, job_id: str, position: int, context: BatchContext) -> ChunkOutcome | None:
    """None when the chunk was already done (a redelivered or resumed message)."""
    claim = claim_chunk(session_factory=context.session_factory, job_id=job_id, position=position)
    if claim is None:
        return None
    started = time.perf_counter()
    classifier = context.versions.get(claim["model_version"])
    with session_scope(context.session_factory) as session:
        todo = _todo(session, claim["item_ids"], classifier.version)
    todo.sort(key=lambda item: len(item[1]))  # batches of similar length: little padding (1.8x here)
    rows = []
    for i in range(0, len(todo), context.batch_size):
        batch = todo[i : i + context.batch_size]
        predictions = classifier.predict([text for _, text, _ in batch], top_k=context.top_k)
        for (ticket_id, text, used), prediction in zip(batch, predictions, strict=True):
            row = build_result_row(
                ticket_id, classifier.version, prediction, detect_language(text), classifier.languages
            )
            row.attachments_used = used
            rows.append(row)
    job_done = _store_and_complete(context, rows, job_id, position, started)
    RECLASSIFIED.inc(len(rows))
    seconds = time.perf_counter() - started
    log.info(
        "job %s chunk %d: %d reclassified, %d skipped in %.2fs",
        job_id,
        position,
        len(rows),
        len(claim["item_ids"]) - len(rows),
        seconds,
    )
    return ChunkOutcome(len(rows), len(claim["item_ids"]) - len(rows), seconds, job_done)
