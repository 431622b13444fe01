"""Fetch and read a ticket's attachments: the plain function behind `helploop.media.extract`.

Each pending attachment is taken on its own: its bytes (sent inline, or downloaded under the ticket's
integration's policy, `shared.media.sources`), stored content-addressed (`MediaStore`), its kind sniffed
from the bytes, its text read (`MediaReader`). A policy refusal (a host not allowed, too large, a bomb, a
kind we do not read) and a broken file are recorded on the attachment and never retried; a network error
is retried by the task, and after `max_attempts` runs the attachment is failed. The ticket itself is never
held up: triage already ran on the body, and whatever happens here the caller enqueues classification
again, which weighs the text read (`services.inference.triage`) and lets the draft go on."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker, undefer

from shared.db import session_scope
from shared.db.base import utcnow
from shared.media.extracted import Extracted
from shared.media.fetch import fetch
from shared.media.models import Attachment, AttachmentStatus
from shared.media.reader import MediaReader
from shared.media.refusal import Refused
from shared.media.sniff import sniff
from shared.media.sources import FetchAccess
from shared.media.store import MediaStore
from shared.metrics import ATTACHMENT_DURATION, ATTACHMENTS_READ
from shared.runtime.language import detect_language
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)
MAX_DETAIL_CHARS = 500


class MediaOutcome(StrEnum):
    READ = "read"  # every attachment is done (extracted, empty, refused or failed)
    NOTHING = "nothing"  # none was pending
    MISSING = "missing"


class TooLarge(Refused):
    """The ticket's attachments passed the per-ticket byte cap."""


@dataclass
class MediaContext:
    session_factory: sessionmaker[Session]
    store: MediaStore
    reader: MediaReader
    access_for_source: Callable[[str], FetchAccess]
    max_ticket_bytes: int = 25 * 1024 * 1024
    max_attempts: int = 3
    retention_days: float = 30.0
    purge_every_s: float = 3600.0
    last_purge: float = 0.0  # monotonic; each worker process purges its own disk at most hourly

    def purge_if_due(self) -> int:
        """Delete stored files past the retention period, at most once per `purge_every_s`."""
        now = time.monotonic()
        if self.last_purge and now - self.last_purge < self.purge_every_s:
            return 0
        self.last_purge = now
        removed = self.store.purge(older_than_days=self.retention_days)
        if removed:
            log.info("purged %d attachment files older than %.0f days", removed, self.retention_days)
        return removed


def kind_label(kind: str | None) -> str:
    """A low-cardinality label for a sniffed MIME type."""
    kind = kind or ""
    for prefix, label in (("image/", "image"), ("audio/", "audio"), ("application/pdf", "pdf")):
        if kind.startswith(prefix):
            return label
    return {"text/plain": "text", "application/zip": "archive"}.get(kind, "other")


def _claim(session: Session, attachment_id: int, max_attempts: int) -> dict[str, Any] | None:
    """Count a run before reading (committed first, so a worker killed by a bomb still counts); None when
    the attachment is done, or failed here because its runs are used up."""
    query = select(Attachment).where(Attachment.id == attachment_id).options(undefer(Attachment.content))
    row = session.scalars(query).first()
    if row is None or row.status != AttachmentStatus.PENDING:
        return None
    if row.attempts >= max_attempts:
        _finish(row, status=AttachmentStatus.FAILED, error="gave_up", detail=f"{row.attempts} runs died")
        return None
    row.attempts += 1
    return {"url": row.url, "content": row.content}


def _finish(row: Attachment, *, status: str, error: str | None = None, detail: str | None = None) -> None:
    row.status, row.error = status, error
    row.error_detail = detail[:MAX_DETAIL_CHARS] if detail else None
    row.extracted_at = utcnow()
    row.content = None  # stored (or refused): the row no longer carries the bytes


def _obtain(claimed: dict[str, Any], access: FetchAccess, budget: int) -> bytes:
    if claimed["content"] is not None:
        content = bytes(claimed["content"])
    else:
        content = fetch(claimed["url"], **access.fetch_kwargs()).content
    if len(content) > budget:
        raise TooLarge("too_large", f"the ticket's attachments pass their cap ({budget} bytes were left)")
    return content


def _store_result(
    session_factory: sessionmaker[Session],
    attachment_id: int,
    content: bytes | None,
    kind: str | None,
    found: Extracted | Refused | Exception,
    digest: str | None,
) -> str:
    with session_scope(session_factory) as session:
        row = session.get(Attachment, attachment_id)
        if row is None:
            return "missing"
        if content is not None:
            row.size, row.kind, row.sha256 = len(content), kind, digest
        if isinstance(found, Refused):
            _finish(row, status=AttachmentStatus.REFUSED, error=found.reason, detail=found.detail)
        elif isinstance(found, Exception):
            detail = f"{type(found).__name__} while reading the file"  # no exception text: it may hold data
            _finish(row, status=AttachmentStatus.FAILED, error="unreadable", detail=detail)
        else:
            text = found.text.strip()
            row.text, row.engine, row.confidence = text or None, found.engine, found.confidence
            row.details = dict(found.details)
            row.language = found.language or (detect_language(text).language if text else None)
            _finish(row, status=AttachmentStatus.EXTRACTED if text else AttachmentStatus.EMPTY)
        return row.status


def _read(context: MediaContext, content: bytes, digest: str) -> tuple[str, Extracted | Refused | Exception]:
    """Store and read fetched bytes: whatever goes wrong in an engine is recorded, never retried."""
    kind = sniff(content)
    try:
        context.store.put(digest, content)
        return kind, context.reader.read(content, kind)
    except Refused as exc:
        return kind, exc
    except Exception as exc:  # a broken file in a third-party decoder: recorded on the attachment
        return kind, exc


def read_one(context: MediaContext, attachment_id: int, access: FetchAccess, budget: int) -> int:
    """Read one attachment; the bytes it used of the ticket's budget. Network errors propagate (retry)."""
    with session_scope(context.session_factory) as session:
        claimed = _claim(session, attachment_id, context.max_attempts)
    if claimed is None:
        return 0
    started, content, kind, digest = time.perf_counter(), None, None, None
    found: Extracted | Refused | Exception
    try:
        content = _obtain(claimed, access, budget)
    except Refused as exc:
        found = exc
    else:
        digest = hashlib.sha256(content).hexdigest()  # once: the store's path and the row's checksum
        kind, found = _read(context, content, digest)
    if isinstance(found, Exception) and not isinstance(found, Refused):
        log.warning("attachment %s (%s) could not be read: %s", attachment_id, kind, type(found).__name__)
    status = _store_result(context.session_factory, attachment_id, content, kind, found, digest)
    engine = found.engine if isinstance(found, Extracted) else "none"
    ATTACHMENTS_READ.labels(kind_label(kind), engine, status).inc()
    ATTACHMENT_DURATION.labels(kind_label(kind), engine).observe(time.perf_counter() - started)
    size = len(content or b"")
    log.info("attachment %s, %d bytes (%s): %s by %s", attachment_id, size, kind, status, engine)
    return size


def read_attachments(*, ticket_id: str, context: MediaContext) -> MediaOutcome:
    """Read every pending attachment of a ticket, in order, within the per-ticket byte cap."""
    with session_scope(context.session_factory) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            log.warning("ticket %s not found; dropping its attachments task", ticket_id)
            return MediaOutcome.MISSING
        pending = [a.id for a in ticket.pending_attachments]
        used = sum(a.size or 0 for a in ticket.attachments if a.status != AttachmentStatus.PENDING)
        source = ticket.source
    context.purge_if_due()
    if not pending:
        return MediaOutcome.NOTHING
    access = context.access_for_source(source)
    for attachment_id in pending:
        used += read_one(context, attachment_id, access, context.max_ticket_bytes - used)
    return MediaOutcome.READ


def fail_pending(*, ticket_id: str, session_factory: sessionmaker[Session], reason: str) -> int:
    """After the task's retries: every attachment still pending is failed (the ticket goes on without
    them). The detail keeps the error's type only: a download error's text names the URL, which may
    carry a signed token."""
    detail = f"the download kept failing ({reason.split(':', 1)[0][:100]})"
    with session_scope(session_factory) as session:
        query = (
            update(Attachment)
            .where(Attachment.ticket_id == ticket_id, Attachment.status == AttachmentStatus.PENDING)
            .values(
                status=AttachmentStatus.FAILED,
                error="download_failed",
                error_detail=detail,
                extracted_at=utcnow(),
                content=None,
            )
            .execution_options(synchronize_session=False)
        )
        return session.execute(query).rowcount
