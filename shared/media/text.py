"""How attachment text joins what the models read: after the message, each attachment under a marker line
naming the file and its kind, each bounded (`max_chars`, cut at a word where one is near), so a 20-page
PDF cannot push the customer's own words out of the model's window or the draft prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

DEFAULT_MAX_CHARS = 2000
KIND_WORDS = {"image": "image", "application/pdf": "PDF", "audio": "voice message", "text/plain": "text"}


class ReadAttachment(Protocol):
    filename: str
    kind: str | None
    text: str | None


def kind_word(kind: str | None) -> str:
    """The word for a sniffed MIME type in a marker line: image, PDF, voice message, text or file."""
    kind = kind or ""
    for prefix, word in KIND_WORDS.items():
        if kind.startswith(prefix):
            return word
    return "file"


def bounded(text: str, max_chars: int | None) -> str:
    text = text.strip()
    if max_chars is None or len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ", max_chars - 80)
    return (cut[:space] if space > 0 else cut).rstrip() + " …"


def marker(attachment: ReadAttachment) -> str:
    name = " ".join(attachment.filename.split())[:80] or "attachment"
    return f"[Attachment {name} ({kind_word(attachment.kind)})]"


def with_attachments(
    text: str, attachments: Sequence[ReadAttachment], *, max_chars: int | None = DEFAULT_MAX_CHARS
) -> str:
    """`text`, then each attachment's text under its marker line (None: not bounded)."""
    parts = [text]
    for attachment in attachments:
        if attachment.text and attachment.text.strip():
            parts.append(f"{marker(attachment)}\n{bounded(attachment.text, max_chars)}")
    return "\n\n".join(parts)
