"""Request and response schemas of the learning loop (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Promote = Literal["activate", "shadow", "none"]


class TrainingRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = False  # train even with fewer new resolutions than HELPLOOP_RETRAIN_MIN_NEW_RESOLUTIONS
    promote: Promote = "activate"  # what to do with a candidate that passes the gate


class ActivateRequest(BaseModel):
    """`POST /v1/models/<version>/activate` (and rollback's body)."""

    force: bool = False  # activate a version the quality gate rejected


class TrainingRunView(BaseModel):
    id: str
    trigger: str
    status: str
    options: dict[str, Any]
    active_version: str | None
    candidate_version: str | None
    reasons: list[Any]
    dataset: dict[str, Any] | None
    error: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report: dict[str, Any] | None = None  # only in the single-run view


class ReclassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime | None = None
    model_version: str | None = Field(default=None, max_length=64)  # default: the active model
    chunk_size: int = Field(default=256, ge=1, le=5000)


class JobView(BaseModel):
    id: str
    kind: str
    status: str
    params: dict[str, Any]
    model_version: str
    total_items: int
    total_chunks: int
    done_chunks: int
    processed_items: int
    progress: float
    error: str | None
    created_at: datetime
    finished_at: datetime | None
