"""Attachment schemas: what a webhook or the API may send (a URL the worker fetches, or the bytes as
base64; multipart files become the same `IncomingFile`), and what the ticket view shows of each."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.validation import Text

MAX_INLINE_BASE64 = 128 * 1024 * 1024  # the schema's loose bound: the byte caps (settings) decide, at intake
Filename = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=255)]


@dataclass(frozen=True)
class IncomingFile:
    """One attachment as intake stores it: a URL, or the bytes themselves."""

    filename: str
    declared_type: str | None
    url: str | None = None
    content: bytes | None = None


class AttachmentIn(BaseModel):
    """`{"filename": "receipt.pdf", "url": "https://…"}` or `{"filename": …, "content_base64": "…"}`."""

    model_config = ConfigDict(extra="ignore")

    filename: Filename = "attachment"
    content_type: Annotated[Text, StringConstraints(max_length=100)] | None = None  # shown, not trusted
    url: Annotated[Text, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")] | None = None
    content_base64: Annotated[str, StringConstraints(max_length=MAX_INLINE_BASE64)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AttachmentIn:
        if (self.url is None) == (self.content_base64 is None):
            raise ValueError("give exactly one of url and content_base64")
        if self.content_base64 is not None:
            try:
                base64.b64decode(self.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("content_base64 is not valid base64") from None
        return self

    def incoming(self) -> IncomingFile:
        content = base64.b64decode(self.content_base64) if self.content_base64 is not None else None
        return IncomingFile(self.filename or "attachment", self.content_type, self.url, content)


class AttachmentView(BaseModel):
    """One attachment in the ticket view; `text` is PII-redacted."""

    filename: str
    status: str  # pending | extracted | empty | refused | failed
    kind: str | None = None
    size: int | None = None
    engine: str | None = None
    confidence: float | None = None
    language: str | None = None
    text: str | None = None
    chars: int = 0
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_detail: str | None = None
    in_classification: bool = False  # its text was in the input of the classification shown
    extracted_at: datetime | None = None
