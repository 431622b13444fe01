"""Request and response schemas of the HTTP API (separate from the storage models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


def _storable_text(value: str) -> str:
    """Reject what a database cannot store: NUL bytes and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return value


Text = Annotated[str, AfterValidator(_storable_text)]
Identifier = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
Email = Annotated[Text, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


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


class Timings(BaseModel):
    received: datetime
    queued: datetime | None = None
    triaged: datetime | None = None


class DraftView(BaseModel):
    text: str
    source: str  # "model" or "template"
    citations: list[str]
    flags: list[str]  # empty when every guardrail passed
    reasons: list[str]
    generator_version: str
    prompt_tokens: int
    tokens: int
    latency_ms: float
    created_at: datetime


class RoutingView(BaseModel):
    route: str  # auto_reply | draft | escalate
    queue: str
    reasons: list[str]
    policy_version: int
    created_at: datetime


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


Label = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


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
    failure_reason: str | None = None
    timings: Timings


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: list[ErrorField] = Field(default_factory=list)
    request_id: str | None = None  # also the `X-Request-Id` header; the log names it beside the details


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]


class KbArticleIn(BaseModel):
    """`POST /v1/kb/articles` and every import format (Markdown front matter, JSON, CSV rows)."""

    model_config = ConfigDict(extra="ignore")

    id: Slug | None = None  # derived from the title when absent
    title: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    body: Annotated[Text, StringConstraints(min_length=1, max_length=200_000)]
    url: Annotated[Text, StringConstraints(max_length=2000)] | None = None
    tags: list[Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]] = (
        Field(default_factory=list, max_length=50)
    )


class KbArticleView(BaseModel):
    id: str
    title: str
    body: str
    url: str | None
    tags: list[str]
    source: str
    chunks: int
    indexed_chunks: int
    updated_at: datetime


class KbHit(BaseModel):
    article_id: str
    title: str
    heading: str
    text: str
    score: float
    url: str | None = None


class KbSearchResult(BaseModel):
    query: str
    hits: list[KbHit]
    revision: int
    encoder: str
