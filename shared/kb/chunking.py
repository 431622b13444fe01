"""Split a Markdown article into retrieval chunks: by heading, then by paragraph up to a word budget.

Each chunk keeps its section heading; the text that gets embedded is "title — heading: text", so an
exact-title query lands on the article even when its body words differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
DEFAULT_MAX_WORDS = 120


@dataclass(frozen=True)
class Chunk:
    position: int
    heading: str
    text: str


def _sections(body: str) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) in order; text before the first heading gets an empty heading."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            sections[-1][1].append(" ".join(paragraph))
            paragraph.clear()

    for line in body.splitlines():
        match = HEADING.match(line)
        if match:
            flush()
            sections.append((match.group(2), []))
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    return [(heading, paras) for heading, paras in sections if paras]


def _split_long(paragraph: str, max_words: int) -> list[str]:
    words = paragraph.split()
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def chunk_article(body: str, *, max_words: int = DEFAULT_MAX_WORDS) -> list[Chunk]:
    """Paragraphs of one section are packed together until `max_words`; longer ones are cut."""
    chunks: list[Chunk] = []
    for heading, paragraphs in _sections(body):
        pieces = [piece for p in paragraphs for piece in _split_long(p, max_words)]
        current: list[str] = []
        for piece in pieces:
            if current and len(" ".join([*current, piece]).split()) > max_words:
                chunks.append(Chunk(len(chunks), heading, "\n\n".join(current)))
                current = []
            current.append(piece)
        if current:
            chunks.append(Chunk(len(chunks), heading, "\n\n".join(current)))
    return chunks


def embedding_text(title: str, heading: str, text: str) -> str:
    """What the encoder sees for a chunk."""
    prefix = f"{title} — {heading}" if heading and heading != title else title
    return f"{prefix}: {text}"
