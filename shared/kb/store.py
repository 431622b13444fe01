"""Knowledge-base writes and reads on a session: keyword-only functions that know nothing of HTTP.

Every change bumps the single revision row in the same transaction, so a worker that sees a new revision
sees the change too. Chunks are stored without embeddings; an indexer (worker task or `helploop kb
import`) fills them in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.db.base import utcnow
from shared.kb.chunking import chunk_article
from shared.kb.models import KbArticle, KbChunk, KbRevision
from shared.kb.schemas import KbArticleIn, KbArticleView

REVISION_ROW = 1


@dataclass(frozen=True)
class UpsertResult:
    article_id: str
    created: bool
    changed: bool
    chunks: int


def content_sha256(article: KbArticleIn) -> str:
    payload = json.dumps([article.title, article.body, article.url, sorted(article.tags)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def bump_revision(session: Session) -> None:
    updated = session.execute(
        update(KbRevision)
        .where(KbRevision.id == REVISION_ROW)
        .values(revision=KbRevision.revision + 1, updated_at=utcnow())
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.add(KbRevision(id=REVISION_ROW, revision=1, updated_at=utcnow()))
    session.flush()


def current_revision(session: Session) -> int:
    return session.scalar(select(KbRevision.revision).where(KbRevision.id == REVISION_ROW)) or 0


def upsert_article(*, session: Session, article: KbArticleIn, source: str) -> UpsertResult:
    """Create or replace an article by id; an unchanged article keeps its chunks and embeddings."""
    assert article.id, "importers and the API fill in the id"
    digest = content_sha256(article)
    row = session.get(KbArticle, article.id)
    if row is not None and row.content_sha256 == digest:
        return UpsertResult(article.id, created=False, changed=False, chunks=len(row.chunks))
    created = row is None
    if row is None:
        row = KbArticle(id=article.id, created_at=utcnow())
        session.add(row)
    row.title, row.body, row.url, row.tags = article.title, article.body, article.url, list(article.tags)
    row.source, row.content_sha256, row.updated_at = source, digest, utcnow()
    row.chunks.clear()
    session.flush()
    row.chunks.extend(
        KbChunk(position=c.position, heading=c.heading, text=c.text) for c in chunk_article(article.body)
    )
    bump_revision(session)
    return UpsertResult(article.id, created=created, changed=True, chunks=len(row.chunks))


def delete_article(*, session: Session, article_id: str) -> bool:
    row = session.get(KbArticle, article_id)
    if row is None:
        return False
    session.delete(row)
    bump_revision(session)
    return True


def article_view(row: KbArticle) -> KbArticleView:
    return KbArticleView(
        id=row.id,
        title=row.title,
        body=row.body,
        url=row.url,
        tags=list(row.tags or []),
        source=row.source,
        chunks=len(row.chunks),
        indexed_chunks=sum(c.embedding is not None for c in row.chunks),
        updated_at=row.updated_at,
    )


def get_article(*, session: Session, article_id: str) -> KbArticleView | None:
    row = session.get(KbArticle, article_id)
    return article_view(row) if row is not None else None


def count_articles(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(KbArticle)) or 0


def pending_chunks(
    *, session: Session, encoder: str, article_id: str | None = None, limit: int | None = None
) -> list[KbChunk]:
    """Chunks without an embedding from `encoder` (new, changed, or embedded by another encoder)."""
    query = select(KbChunk).where(
        KbChunk.embedding.is_(None) | KbChunk.encoder.is_(None) | (KbChunk.encoder != encoder)
    )
    if article_id is not None:
        query = query.where(KbChunk.article_id == article_id)
    return list(session.scalars(query.order_by(KbChunk.id).limit(limit)))


def store_embeddings(*, session: Session, chunks: list[KbChunk], vectors: np.ndarray, encoder: str) -> None:
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk.embedding = np.asarray(vector, dtype=np.float32).tobytes()
        chunk.encoder = encoder
    if chunks:
        bump_revision(session)
