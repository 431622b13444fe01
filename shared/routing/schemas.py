"""Response schemas of the routing domain (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RoutingView(BaseModel):
    route: str  # auto_reply | draft | escalate
    queue: str
    reasons: list[str]
    policy_version: int
    created_at: datetime
