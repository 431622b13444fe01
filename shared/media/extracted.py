"""What an extractor returns for one attachment, whatever the kind: the text, which engine read it, how sure
it was and in which language — stored per attachment and shown in the ticket view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Extracted:
    text: str
    engine: str  # e.g. "pypdf", "rapidocr-ppocrv4", "tesseract", "faster-whisper-base"
    confidence: float | None = None  # the engine's mean confidence in [0, 1], where it gives one
    language: str | None = None  # what the engine detected (speech) or None
    details: dict[str, Any] = field(default_factory=dict)  # pages, duration_s, lines, truncated, …


class Extractor(Protocol):
    """An engine that turns one file's bytes into text (OCR, speech). Loaded once per worker process."""

    name: str

    def extract(self, content: bytes) -> Extracted: ...
