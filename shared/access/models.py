"""Storage of API keys (only a SHA-256 of each key is kept) and of the admin audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, new_id, utcnow


class Scope(StrEnum):
    INGEST = "ingest"  # post tickets
    READ = "read"  # read tickets, drafts, deliveries, models, jobs; feedback
    REVIEW = "review"  # confirm and correct predicted labels (the console's review queue)
    ADMIN = "admin"  # train, activate, roll back, reclassify, knowledge-base writes, dead-letter retries


ALL_SCOPES = tuple(Scope)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))  # key id and name, or "cli:<user>"
    action: Mapped[str] = mapped_column(String(64))  # e.g. "model.activate"
    target: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status answered
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]
