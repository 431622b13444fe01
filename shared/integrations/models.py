"""Storage of write-back deliveries to helpdesks and of resolution feedback from them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up: a 4xx other than 429, or out of attempts


class DeliveryKind(StrEnum):
    NOTE = "note"  # internal note + tags/fields
    REPLY = "reply"  # public reply to the customer (auto-reply route only)
    CALLBACK = "callback"  # signed outbound webhook (generic integration)


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    routing_decision_id: Mapped[int] = mapped_column(ForeignKey("routing_decisions.id", ondelete="CASCADE"))
    integration: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    payload: Mapped[dict[str, Any]]  # rendered once: every attempt sends the same content
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Resolution(Base):
    """An agent's final answer on a resolved ticket: a labelled, PII-redacted training example linked to
    the prediction it corrects or confirms (live accuracy is computed from these)."""

    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    source: Mapped[str] = mapped_column(String(32))  # "api" or the integration name
    final_labels: Mapped[dict[str, Any]]  # {"label": "refund_request", "sentiment": ...}
    text: Mapped[str] = mapped_column(Text)  # the ticket text, redacted
    reply: Mapped[str | None] = mapped_column(Text)  # the reply the agent sent, redacted
    triage_result_id: Mapped[int | None] = mapped_column(ForeignKey("triage_results.id", ondelete="SET NULL"))
    model_version: Mapped[str | None] = mapped_column(String(64))
    predicted_label: Mapped[str | None] = mapped_column(String(100))
    predicted_confidence: Mapped[float | None] = mapped_column(Float)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
