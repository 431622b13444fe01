"""Request and response schemas of the integrations domain: write-back deliveries and the agents'
resolutions (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.validation import Label, Text


class DeliveryView(BaseModel):
    id: int
    ticket_id: str
    integration: str
    provider: str
    kind: str  # note | reply | callback
    status: str  # pending | sent | dead
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    remote_id: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    sent_at: datetime | None = None


class ResolutionIn(BaseModel):
    """`POST /v1/tickets/<id>/resolution`: the agent's final intent (and other heads) and reply."""

    model_config = ConfigDict(extra="ignore")

    intent: Label | None = None
    labels: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")], Label] = Field(
        default_factory=dict, max_length=16
    )
    reply: Annotated[Text, StringConstraints(max_length=200_000)] | None = None
    resolved_at: AwareDatetime | None = None


class ResolutionView(BaseModel):
    ticket_id: str
    source: str
    final_labels: dict[str, str]
    predicted_label: str | None
    model_version: str | None
    correct: bool | None
    reply: str | None
    resolved_at: datetime
