"""Storage of reply drafts: one per (ticket, generator version), with citations and guardrail flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db.base import Base, utcnow


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("ticket_id", "generator_version", name="uq_draft_ticket_generator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    generator_version: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(
        String(16)
    )  # "model", or "template" when the model's output was unusable
    text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]]  # knowledge-base article ids given to the model
    flags: Mapped[list[Any]]  # guardrail flags: ungrounded, pii_echo, empty, degenerate
    reasons: Mapped[list[Any]]
    intent: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def latest_draft(session: Session, ticket_id: str) -> Draft | None:
    """The draft a ticket is served: its newest (a new active generator may draft it again)."""
    query = select(Draft).where(Draft.ticket_id == ticket_id)
    return session.scalars(query.order_by(Draft.created_at.desc(), Draft.id.desc())).first()


class DraftAdoption(Base):
    """What the agent did with the draft once the ticket was resolved (`shared.drafting.adoption`)."""

    __tablename__ = "draft_adoptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id", ondelete="SET NULL"))
    generator_version: Mapped[str] = mapped_column(String(64), index=True)
    draft_source: Mapped[str] = mapped_column(String(16))  # model | template
    intent: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))  # sent_as_is | edited | discarded
    chrf: Mapped[float] = mapped_column(Float)
    edit_distance: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ShadowDraft(Base):
    """A shadow generator's draft of a live ticket, written beside the active one and never shown; scored
    against the agent's final reply when the ticket is resolved (`shared.drafting.shadow_service`)."""

    __tablename__ = "shadow_drafts"
    __table_args__ = (
        UniqueConstraint("ticket_id", "generator_version", name="uq_shadow_draft_ticket_generator"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    generator_version: Mapped[str] = mapped_column(String(64), index=True)  # the shadow's
    active_version: Mapped[str] = mapped_column(String(64))  # the generator whose draft the ticket got
    source: Mapped[str] = mapped_column(String(16))  # model | template, as the active draft's
    text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]]
    flags: Mapped[list[Any]]
    reasons: Mapped[list[Any]]
    intent: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(16))
    tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # filled at resolution, against the agent's reply: the shadow's draft and the active draft side by side
    outcome: Mapped[str | None] = mapped_column(String(16))
    chrf: Mapped[float | None] = mapped_column(Float)
    edit_distance: Mapped[float | None] = mapped_column(Float)
    active_outcome: Mapped[str | None] = mapped_column(String(16))
    active_chrf: Mapped[float | None] = mapped_column(Float)
    scored_at: Mapped[datetime | None] = mapped_column()
