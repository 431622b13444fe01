"""Storage models: tickets as received, and one triage result per (ticket, model version)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from shared.tickets.normalise import normalise_ticket


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TicketStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    TRIAGED = "triaged"
    FAILED = "failed"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_tickets_source_event"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any] | None]  # the webhook's customer/order attributes (plan, order_ids, …)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.RECEIVED, index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # triage runs started: a ticket that kills its worker every time is failed after the limit
    triage_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    triaged_at: Mapped[datetime | None]

    results: Mapped[list[TriageResult]] = relationship(
        back_populates="ticket", order_by="TriageResult.created_at", cascade="all, delete-orphan"
    )

    @property
    def text(self) -> str:
        """What the models read: the subject and the newest message, without quoted history, signature
        or disclaimer (`shared.tickets.normalise`)."""
        return normalise_ticket(self.body, self.subject).text

    @property
    def original_text(self) -> str:
        """Subject and body as received: what a draft may be grounded in."""
        return f"{self.subject}\n\n{self.body}" if self.subject else self.body


class TriageResult(Base):
    __tablename__ = "triage_results"
    __table_args__ = (UniqueConstraint("ticket_id", "model_version", name="uq_triage_ticket_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    top_k: Mapped[list[Any]]
    out_of_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    heads: Mapped[dict[str, Any] | None]  # every head: {name: {label, confidence, top_k, out_of_scope}}
    language: Mapped[str | None] = mapped_column(String(16))  # detected from the text
    language_supported: Mapped[bool | None] = mapped_column(Boolean)
    inference_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="results")
