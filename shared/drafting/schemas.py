"""Response schemas of the drafting domain (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DraftView(BaseModel):
    text: str
    source: str  # "model" or "template"
    citations: list[str]
    flags: list[str]  # empty when every guardrail passed
    reasons: list[str]
    generator_version: str
    prompt_tokens: int
    tokens: int
    latency_ms: float
    created_at: datetime
