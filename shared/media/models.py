"""The attachments table: one row per file a ticket arrived with, from intake (a URL to fetch, or the bytes
sent inline, kept here until a worker stores them) to the text read from it.

    pending ──(worker: fetched, sniffed, read)──▶ extracted (text) │ empty (nothing readable)
        │                                                          │
        └──────────────────────────────────────────────────────────┴─▶ refused (a policy said no: reason)
                                                                     ─▶ failed (broken, or attempts used up)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from shared.db.base import Base, utcnow


class Weighed(StrEnum):
    USED = "used"
    LEFT_OUT = "left_out"


class AttachmentStatus(StrEnum):
    PENDING = "pending"
    EXTRACTED = "extracted"
    EMPTY = "empty"
    REFUSED = "refused"
    FAILED = "failed"


DONE = (AttachmentStatus.EXTRACTED, AttachmentStatus.EMPTY, AttachmentStatus.REFUSED, AttachmentStatus.FAILED)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))  # as sent: shown, never trusted for the type
    declared_type: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(Text)  # fetched by the worker under the integration's policy
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))  # inline bytes until stored
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(100))  # sniffed from the bytes
    status: Mapped[str] = mapped_column(String(16), default=AttachmentStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    engine: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)  # as read (views and logs redact it)
    confidence: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(String(64))  # a short reason: too_large, host_not_allowed, …
    error_detail: Mapped[str | None] = mapped_column(Text)
    # once triage weighed its text: `used` (in the input of the classification stored) or `left_out` (the
    # decision stayed as the body's); None before
    weighed: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    extracted_at: Mapped[datetime | None]
