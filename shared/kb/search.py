"""The knowledge base as workers see it: an in-memory matrix of chunk embeddings, rebuilt when the
database revision moves, and the indexer that embeds new chunks."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import session_scope
from shared.drafting.prompt import Passage
from shared.kb.chunking import embedding_text
from shared.kb.models import KbArticle, KbChunk
from shared.kb.schemas import KbHit
from shared.kb.store import current_revision, pending_chunks, store_embeddings
from shared.metrics import INFERENCE_DURATION

if TYPE_CHECKING:
    from shared.runtime.encoder import SentenceEncoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KbIndex:
    revision: int
    matrix: np.ndarray  # chunks × dim, unit rows
    hits: list[KbHit] = field(default_factory=list)  # one template per row (score 0)

    def search(self, query: np.ndarray, *, k: int) -> list[KbHit]:
        """Top-k articles by their best chunk's cosine similarity to the query."""
        if not self.hits:
            return []
        scores = self.matrix @ query
        best: dict[str, KbHit] = {}
        for row in np.argsort(-scores):
            hit = self.hits[row]
            if hit.article_id not in best:
                best[hit.article_id] = hit.model_copy(update={"score": float(scores[row])})
                if len(best) == k:
                    break
        return list(best.values())


def load_index(session: Session, *, encoder: str) -> KbIndex:
    revision = current_revision(session)
    rows = session.execute(
        select(KbChunk, KbArticle.title, KbArticle.url)
        .join(KbArticle, KbChunk.article_id == KbArticle.id)
        .where(KbChunk.encoder == encoder, KbChunk.embedding.is_not(None))
        .order_by(KbChunk.id)
    ).all()
    if not rows:
        return KbIndex(revision, np.zeros((0, 0), dtype=np.float32))
    matrix = np.stack([np.frombuffer(chunk.embedding, dtype=np.float32) for chunk, _, _ in rows])
    hits = [
        KbHit(article_id=c.article_id, title=title, heading=c.heading, text=c.text, score=0.0, url=url)
        for c, title, url in rows
    ]
    return KbIndex(revision, matrix, hits)


class KnowledgeBase:
    """Per worker process: search always reflects the latest committed revision (one tiny query)."""

    def __init__(self, session_factory: sessionmaker[Session], encoder: SentenceEncoder) -> None:
        self.session_factory = session_factory
        self.encoder = encoder
        self._index: KbIndex | None = None
        self._lock = threading.Lock()

    def index(self) -> KbIndex:
        """The current index; when the revision moved, embed what is pending, then reload."""
        with session_scope(self.session_factory) as session:
            revision = current_revision(session)
        index = self._index
        if index is not None and index.revision == revision:
            return index
        with self._lock:
            self.index_pending()
            with session_scope(self.session_factory) as session:
                index = self._index = load_index(session, encoder=self.encoder.version)
        log.info("knowledge-base index at revision %d: %d chunks", index.revision, len(index.hits))
        return index

    def search(self, query: str, *, k: int = 5) -> tuple[list[KbHit], int]:
        index = self.index()
        if not index.hits:
            return [], index.revision
        with INFERENCE_DURATION.labels("retrieve").time():
            return index.search(self.encoder.embed_queries([query])[0], k=k), index.revision

    def index_pending(self, *, article_id: str | None = None, batch_size: int = 64) -> int:
        """Embed chunks that have no embedding from this encoder yet; returns how many were embedded."""
        done = 0
        while True:
            with session_scope(self.session_factory) as session:
                chunks = pending_chunks(
                    session=session, encoder=self.encoder.version, article_id=article_id, limit=batch_size
                )
                if not chunks:
                    return done
                titles = {c.article_id: c.article.title for c in chunks}
                texts = [embedding_text(titles[c.article_id], c.heading, c.text) for c in chunks]
                vectors = self.encoder.embed_passages(texts)
                store_embeddings(
                    session=session, chunks=chunks, vectors=vectors, encoder=self.encoder.version
                )
                done += len(chunks)


def relevant_passages(
    knowledge: KnowledgeBase, text: str, *, k: int, min_score: float | None
) -> list[Passage]:
    """The drafting prompt's context: the top `k` articles' best chunks at or above the relevance floor
    (`min_score`, else the encoder's own). Training data is built with this very function."""
    if k == 0:
        return []
    hits, _ = knowledge.search(text, k=k)
    floor = knowledge.encoder.min_relevance if min_score is None else min_score
    return [
        Passage(h.article_id, f"{h.title} — {h.heading}" if h.heading else h.title, h.text, h.url)
        for h in hits
        if h.score >= floor
    ]
