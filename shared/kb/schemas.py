"""Request and response schemas of the knowledge base (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.validation import Slug, Text


class KbArticleIn(BaseModel):
    """`POST /v1/kb/articles` and every import format (Markdown front matter, JSON, CSV rows)."""

    model_config = ConfigDict(extra="ignore")

    id: Slug | None = None  # derived from the title when absent
    title: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    body: Annotated[Text, StringConstraints(min_length=1, max_length=200_000)]
    url: Annotated[Text, StringConstraints(max_length=2000)] | None = None
    tags: list[Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]] = (
        Field(default_factory=list, max_length=50)
    )


class KbArticleView(BaseModel):
    id: str
    title: str
    body: str
    url: str | None
    tags: list[str]
    source: str
    chunks: int
    indexed_chunks: int
    updated_at: datetime


class KbHit(BaseModel):
    article_id: str
    title: str
    heading: str
    text: str
    score: float
    url: str | None = None


class KbSearchResult(BaseModel):
    query: str
    hits: list[KbHit]
    revision: int
    encoder: str
