"""Request and response schemas of the tickets domain: intake (API and generic webhook) and the ticket
view (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.drafting.schemas import DraftView
from shared.integrations.schemas import DeliveryView, ResolutionView
from shared.media.schemas import AttachmentIn, AttachmentView
from shared.routing.schemas import RoutingView
from shared.validation import Channel, Email, Identifier, LanguageTag, Text


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Identifier
    email: Email | None = None
    name: Annotated[Text, StringConstraints(max_length=200)] | None = None


AttributeKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


AttributeValue = (
    Annotated[Text, StringConstraints(max_length=200)]
    | bool
    | Annotated[int, Field(ge=-(2**53), le=2**53)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[list[Annotated[Text, StringConstraints(max_length=100)]], Field(max_length=20)]
)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_id: Identifier
    subject: Annotated[Text, StringConstraints(max_length=1000)] = ""
    body: Annotated[Text, StringConstraints(min_length=1, max_length=200_000)]
    customer: CustomerIn
    channel: Channel = "email"
    language: LanguageTag | None = None
    created_at: AwareDatetime
    # what the helpdesk knows of the customer or order (plan, order_ids, locale, …): the routing policy may
    # branch on them (`attributes:` rules); at most 20, keys like `plan`, values short
    attributes: Annotated[dict[AttributeKey, AttributeValue], Field(max_length=20)] = Field(
        default_factory=dict
    )
    # files: a URL the worker fetches (from the integration's hosts only) or the bytes as base64; their
    # text joins what triage and the draft read (`shared.media`); the byte caps are settings
    attachments: Annotated[list[AttachmentIn], Field(max_length=50)] = Field(default_factory=list)


class WebhookEnvelope(BaseModel):
    """Body of `POST /v1/webhooks/generic` and `POST /v1/tickets`."""

    model_config = ConfigDict(extra="ignore")

    event_id: Identifier
    ticket: TicketIn


class ApiTicketEnvelope(WebhookEnvelope):
    """`POST /v1/tickets`: `event_id` is optional there (an `Idempotency-Key` header may carry it)."""

    event_id: Identifier | None = None  # type: ignore[assignment]


class TicketAccepted(BaseModel):
    id: str
    status: str
    status_url: str
    duplicate: bool = False


class LabelProbability(BaseModel):
    label: str
    p: float


class HeadClassification(BaseModel):
    label: str
    confidence: float
    top_k: list[LabelProbability]
    out_of_scope: bool = False


class Classification(HeadClassification):
    """The primary head (intent) at the top level, every head under `heads`."""

    heads: dict[str, HeadClassification] = Field(default_factory=dict)
    language: str | None = None
    language_supported: bool | None = None
    model_version: str
    inference_ms: float
    attachments_used: int = 0  # attachments whose text was in this classification's input


class Timings(BaseModel):
    received: datetime
    queued: datetime | None = None
    triaged: datetime | None = None


class RemovedPart(BaseModel):
    """A part of the e-mail the models do not read (quoted history, signature, disclaimer), PII-redacted."""

    kind: str  # quoted | signature | disclaimer
    chars: int
    text: str


class TicketView(BaseModel):
    id: str
    source: str
    event_id: str
    external_id: str
    status: str
    subject: str
    channel: str
    language: str | None
    attributes: dict[str, Any] = Field(default_factory=dict)
    # what the models read is the subject and the newest message; the rest of the body, kept as received:
    removed: list[RemovedPart] = Field(default_factory=list)
    classification: Classification | None = None
    draft: DraftView | None = None
    routing: RoutingView | None = None
    deliveries: list[DeliveryView] = Field(default_factory=list)
    # the final labels an agent or a reviewer gave (the helpdesk's resolution, a console correction)
    resolution: ResolutionView | None = None
    attachments: list[AttachmentView] = Field(default_factory=list)
    # once the attachments were read: `changed` (re-classified with their text: the classification shown),
    # `unchanged` (their text left the decision as it was: the body's classification stands); None before
    attachment_decision: str | None = None
    failure_reason: str | None = None
    timings: Timings
