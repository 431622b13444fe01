"""Response schemas of the access domain (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryView(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    status: int | None
    remote_addr: str | None
    details: dict[str, Any]


class AuditLog(BaseModel):
    entries: list[AuditEntryView]
