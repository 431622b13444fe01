"""The tickets' tables: a ticket as received (its status moves only through `shared.tickets.lifecycle`),
and one triage result per (ticket, model version)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, new_id, utcnow
from shared.media.models import Attachment, AttachmentStatus
from shared.media.text import with_attachments
from shared.tickets.normalise import normalise_ticket


class TicketStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    TRIAGED = "triaged"
    FAILED = "failed"


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_tickets_source_event"),
        Index("ix_tickets_received_at_id", "received_at", "id"),  # the console's inbox, newest first
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320), index=True)  # the console's search
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
    # after attachments were read: did their text change the decision? changed | unchanged (None: not yet)
    attachment_decision: Mapped[str | None] = mapped_column(String(16))

    results: Mapped[list[TriageResult]] = relationship(
        back_populates="ticket", order_by="TriageResult.created_at", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        order_by=Attachment.position, cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def latest_result(self) -> TriageResult | None:
        """The newest triage result (by the newest model version that classified it), if any."""
        return self.results[-1] if self.results else None

    @property
    def text(self) -> str:
        """What the models read: the subject and the newest message, without quoted history, signature
        or disclaimer (`shared.tickets.normalise`), then the text read from its attachments, marked and
        bounded (`shared.media.text`)."""
        return with_attachments(normalise_ticket(self.body, self.subject).text, self.read_attachments)

    @property
    def original_text(self) -> str:
        """Subject and body as received, and the attachments' text: what a draft may be grounded in (an
        order number on the invoice is in the ticket)."""
        body = f"{self.subject}\n\n{self.body}" if self.subject else self.body
        return with_attachments(body, self.read_attachments, max_chars=None)

    @property
    def read_attachments(self) -> list[Attachment]:
        """The attachments whose text was read (status `extracted`), in the order they came."""
        return [a for a in self.attachments if a.status == AttachmentStatus.EXTRACTED and a.text]

    @property
    def pending_attachments(self) -> list[Attachment]:
        return [a for a in self.attachments if a.status == AttachmentStatus.PENDING]


class TriageResult(Base):
    __tablename__ = "triage_results"
    __table_args__ = (
        UniqueConstraint("ticket_id", "model_version", "attachments_used", name="uq_triage_ticket_model"),
        Index("ix_triage_results_label", "label"),  # the inbox's intent filter
        Index("ix_triage_results_confidence", "confidence"),  # the review queue: lowest first
    )

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
    # how many attachments' text the input held: 0 on the body alone; a later result with more is the
    # re-classification stored because the attachments changed the decision
    attachments_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="results")
