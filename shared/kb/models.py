"""Storage models of the knowledge base: articles, their embedded chunks, and one revision counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, utcnow


class KbArticle(Base):
    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # a slug, e.g. "returns-policy"
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # Markdown
    url: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]]
    source: Mapped[str] = mapped_column(String(200))  # "api" or the imported file's name
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    chunks: Mapped[list[KbChunk]] = relationship(
        back_populates="article", order_by="KbChunk.position", cascade="all, delete-orphan"
    )


class KbChunk(Base):
    __tablename__ = "kb_chunks"
    __table_args__ = (UniqueConstraint("article_id", "position", name="uq_kb_chunk_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32, L2-normalised; None until indexed
    encoder: Mapped[str | None] = mapped_column(String(100))  # the encoder version that made the embedding

    article: Mapped[KbArticle] = relationship(back_populates="chunks")


class KbRevision(Base):
    """One row, bumped in the same transaction as every knowledge-base change: workers compare it with
    the revision their in-memory index was built from and reload when it moved."""

    __tablename__ = "kb_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
