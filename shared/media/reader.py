"""Read one attachment's text by what it really is (sniffed): images through OCR, PDFs through their
embedded text (and OCR of pages that are only a picture), audio through speech recognition, plain text as
it is, zip archives member by member under their limits. A kind we cannot read, or an engine that is off,
is a `Refused` with a reason; the engines are loaded once, on first use (`EngineSlot`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.media.archive import ArchiveLimits, open_zip
from shared.media.extracted import Extracted, Extractor
from shared.media.pdf import PdfLimits, page_images, pdf_text
from shared.media.refusal import Refused

log = logging.getLogger(__name__)
MAX_TEXT_CHARS = 50_000  # of any one attachment's text kept
MAX_SCANNED_PAGES = 5  # pages of a PDF read by OCR when they hold no text
MEMBER_KINDS = ("image/", "application/pdf", "text/plain", "audio/")


class ReadRefused(Refused):
    """A kind we do not read, or whose engine is off."""


class EngineSlot:
    """One engine, loaded on first use by `load` (None: the engine is off), then kept for the process; an
    engine that fails to load (not installed, weights missing) is refused with that reason, logged once."""

    def __init__(self, name: str, load: Callable[[], Extractor | None]) -> None:
        self.name, self._load = name, load
        self._lock = threading.Lock()
        self._engine: Extractor | None = None
        self._refusal: ReadRefused | None = None
        self._loaded = False

    def get(self) -> Extractor:
        with self._lock:
            if not self._loaded:
                try:
                    self._engine = self._load()
                except Exception as exc:  # an engine that cannot load must not fail every ticket differently
                    log.exception("%s could not be loaded", self.name)
                    self._refusal = ReadRefused("engine_unavailable", f"{self.name}: {type(exc).__name__}")
                self._loaded = True
        if self._refusal is not None:
            raise self._refusal
        if self._engine is None:
            raise ReadRefused("engine_off", f"{self.name} is turned off on this worker")
        return self._engine


@dataclass
class MediaReader:
    ocr: EngineSlot
    speech: EngineSlot
    pdf_limits: PdfLimits = field(default_factory=PdfLimits)
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    def read(self, content: bytes, kind: str, *, in_archive: bool = False) -> Extracted:
        if kind.startswith("image/"):
            return self.ocr.get().extract(content)
        if kind == "application/pdf":
            return self._pdf(content)
        if kind.startswith("audio/"):
            return self.speech.get().extract(content)
        if kind == "text/plain":
            return Extracted(content.decode("utf-8", errors="replace")[:MAX_TEXT_CHARS], "plain-text", 1.0)
        if kind == "application/zip" and not in_archive:
            return self._zip(content)
        raise ReadRefused("unsupported_type", f"{kind} attachments are not read")

    def _pdf(self, content: bytes) -> Extracted:
        found = pdf_text(content, self.pdf_limits)
        details = {"pages": found.pages, "pages_read": found.pages_read, "truncated": found.truncated}
        texts, engine, confidence = [found.text] if found.text else [], "pypdf", 1.0
        scanned = found.pages_without_text[:MAX_SCANNED_PAGES]
        if scanned:
            try:
                ocr = self.ocr.get()
            except ReadRefused:
                ocr = None
            if ocr is not None:
                results = [ocr.extract(image) for image in page_images(content, scanned, self.pdf_limits)]
                texts += [r.text for r in results if r.text]
                scores = [r.confidence for r in results if r.confidence is not None]
                engine = f"pypdf+{ocr.name}"
                confidence = min([confidence, *scores]) if scores else confidence
                details["pages_ocr"] = len(results)
        return Extracted("\n\n".join(texts)[:MAX_TEXT_CHARS], engine, confidence, details=details)

    def _zip(self, content: bytes) -> Extracted:
        parts, engines, skipped = [], set(), 0
        for member in open_zip(content, self.archive_limits):
            if not member.kind.startswith(MEMBER_KINDS):
                skipped += 1
                continue
            try:
                found = self.read(member.content, member.kind, in_archive=True)
            except Refused as exc:
                log.info("archive member %s not read: %s", member.name[:100], exc.reason)
                skipped += 1
                continue
            engines.add(found.engine)
            if found.text:
                parts.append(f"{member.name}:\n{found.text}")
        engine = "zip+" + "+".join(sorted(engines)) if engines else "zip"
        details = {"members_read": len(parts), "members_skipped": skipped}
        return Extracted("\n\n".join(parts)[:MAX_TEXT_CHARS], engine[:64], None, details=details)
