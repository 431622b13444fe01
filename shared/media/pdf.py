"""Text from PDF attachments: each page's embedded text (pypdf), up to a page cap and a character cap;
pages without text are listed (a scanned page: OCR's work); encrypted or broken files are refused
(`PdfRefused`), and so is a stream that would expand past `max_stream_bytes` (pypdf's decompression
limits, applied to each call: a flate bomb stops there instead of filling memory)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from shared.media.refusal import Refused


class PdfRefused(Refused):
    """A PDF that is encrypted, broken or expands past its limits."""


@dataclass(frozen=True)
class PdfLimits:
    max_pages: int = 20
    max_chars: int = 50_000
    max_stream_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int  # in the document
    pages_read: int
    pages_without_text: tuple[int, ...]  # 1-based
    truncated: bool  # the page or character cap cut it short


def _bounds(limit: int) -> dict[str, int]:
    """pypdf's decompression and stream limits, none above `limit` (pypdf's own defaults are 75 MB)."""
    names = ("zlib", "lzw", "run_length", "jbig2", "brotli")
    bounds = {f"{name}_maximum_output_length": limit for name in names}
    return {
        **bounds,
        "array_based_stream_maximum_output_length": limit,
        "maximum_declared_stream_length": limit,
    }


def pdf_text(content: bytes, limits: PdfLimits | None = None) -> PdfText:
    """The text of a PDF's first `max_pages` pages, at most `max_chars` characters."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    limits = limits or PdfLimits()
    try:
        with apply_configuration(**_bounds(limits.max_stream_bytes)):  # this call only: a context variable
            reader = PdfReader(io.BytesIO(content))
            if reader.is_encrypted:
                raise PdfRefused("encrypted", "the PDF needs a password")
            return _read_pages(reader, limits)
    except LimitReachedError as exc:
        raise PdfRefused("too_large", str(exc)[:200]) from exc
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:  # pypdf's errors on a malformed file
        raise PdfRefused("unreadable", f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def _read_pages(reader: object, limits: PdfLimits) -> PdfText:
    pages = reader.pages  # type: ignore[attr-defined]
    texts: list[str] = []
    empty: list[int] = []
    read = used = 0
    cut = False
    for number, page in enumerate(pages[: limits.max_pages], start=1):
        read = number
        text = (page.extract_text() or "").strip()
        if not text:
            empty.append(number)
            continue
        kept = text[: limits.max_chars - used]
        cut = len(kept) < len(text)
        texts.append(kept)
        used += len(kept)
        if used >= limits.max_chars:
            break
    truncated = cut or read < len(pages)
    return PdfText("\n\n".join(texts), len(pages), read, tuple(empty), truncated)


def page_images(content: bytes, pages: tuple[int, ...], limits: PdfLimits | None = None) -> list[bytes]:
    """The largest image embedded in each of `pages` (1-based): a scanned page is one picture of the
    page, for OCR. Under the same decompression bounds as `pdf_text`; a page whose image cannot be
    decoded is skipped."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    limits = limits or PdfLimits()
    images: list[bytes] = []
    try:
        with apply_configuration(**_bounds(limits.max_stream_bytes)):
            reader = PdfReader(io.BytesIO(content))
            for number in pages[: limits.max_pages]:
                try:
                    found = [image.data for image in reader.pages[number - 1].images]
                except (PyPdfError, ValueError, KeyError, TypeError, OSError, NotImplementedError):
                    continue
                if found:
                    images.append(max(found, key=len))
    except LimitReachedError as exc:
        raise PdfRefused("too_large", str(exc)[:200]) from exc
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise PdfRefused("unreadable", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    return images
