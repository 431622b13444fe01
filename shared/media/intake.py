"""Attachments at intake: the caps a request is held to (files per ticket, bytes per file and per ticket,
checked before anything is stored) and the rows stored with the ticket, in its transaction. Nothing is
downloaded or read here: a worker does that (`helploop.media.extract`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from shared.media.models import Attachment, AttachmentStatus
from shared.media.schemas import IncomingFile


@dataclass(frozen=True)
class IntakeLimits:
    max_files: int = 10
    max_file_bytes: int = 10 * 1024 * 1024
    max_ticket_bytes: int = 25 * 1024 * 1024


class AttachmentRejected(ValueError):
    """A request whose attachments break a cap: `code` for the API, a message that says what to change."""

    def __init__(self, code: str, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.too_large = code, message, too_large


def check_files(files: Sequence[IncomingFile], limits: IntakeLimits) -> None:
    if len(files) > limits.max_files:
        raise AttachmentRejected(
            "too_many_attachments", f"{len(files)} attachments; at most {limits.max_files} per ticket"
        )
    total = 0
    for index, incoming in enumerate(files):
        size = len(incoming.content or b"")
        if size > limits.max_file_bytes:
            raise AttachmentRejected(
                "attachment_too_large",
                f"attachment {index + 1} ({incoming.filename[:80]!r}) has {size} bytes; "
                f"at most {limits.max_file_bytes} per file",
                too_large=True,
            )
        total += size
    if total > limits.max_ticket_bytes:
        raise AttachmentRejected(
            "attachments_too_large",
            f"the attachments have {total} bytes together; at most {limits.max_ticket_bytes} per ticket",
            too_large=True,
        )


def attachment_rows(files: Sequence[IncomingFile], limits: IntakeLimits) -> list[Attachment]:
    """Rows for a new ticket's attachments (AttachmentRejected when a cap is broken)."""
    check_files(files, limits)
    rows = []
    for position, incoming in enumerate(files):
        content = incoming.content
        rows.append(
            Attachment(
                position=position,
                filename=incoming.filename[:255] or "attachment",
                declared_type=(incoming.declared_type or None) and incoming.declared_type[:100],
                url=incoming.url,
                content=content,
                size=len(content) if content is not None else None,
                sha256=hashlib.sha256(content).hexdigest() if content is not None else None,
                status=AttachmentStatus.PENDING,
                attempts=0,
            )
        )
    return rows
