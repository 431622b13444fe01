"""Map each helpdesk's webhook payload to our ticket (new tickets) or to resolution feedback (solved ones).

Event ids come from signed content (ticket/article/issue ids), never from unsigned headers, so a replayed
body is always a duplicate. Field shapes: the providers' documented payloads; see the fixtures in
`tests/fixtures/webhooks/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.gateway.webhooks import attachments
from shared.integrations.tags import intent_from_tags
from shared.tickets.normalise import plain_text
from shared.tickets.schemas import TicketIn

RESOLVED_STATES = {"solved", "closed", "resolved", "done"}


class PayloadError(ValueError):
    """The payload lacks a field we need; `field` names it."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field = field_path


@dataclass(frozen=True)
class NewTicket:
    event_id: str
    ticket: TicketIn


@dataclass(frozen=True)
class Resolved:
    """A solved ticket. `labels_from_helpdesk`: the payload does not carry the ticket's tags (Zammad's
    default payload never does), so the final labels must be read from the helpdesk's API."""

    external_id: str
    final_labels: dict[str, str] = field(default_factory=dict)
    reply: str | None = None
    labels_from_helpdesk: bool = False


@dataclass(frozen=True)
class Ignored:
    reason: str


Event = NewTicket | Resolved | Ignored


def dig(document: Any, path: str, *, required: bool = True) -> Any:
    value = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            if required:
                raise PayloadError(path, f"missing field {path}")
            return None
    return value


def mapping(document: Any, path: str) -> dict[str, Any]:
    """A required object: missing or not an object is a PayloadError naming the field."""
    value = dig(document, path)
    if not isinstance(value, dict):
        raise PayloadError(path, f"{path} must be an object")
    return value


def optional_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(value: Any) -> str:
    """Zammad and Jira give states/priorities either as a string or as an object with a name."""
    if isinstance(value, dict):
        value = value.get("name")
    return str(value or "").strip().lower()


def _channel(value: Any) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "_", str(value or "").strip().lower()).strip("_-")[:32]
    return slug if slug and slug[0].isalpha() else "email"


def _timestamp(value: Any) -> datetime:
    if value in (None, ""):
        return datetime.now(UTC)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            raise PayloadError("created_at", f"unparseable timestamp {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def customer(identifier: Any, email: Any, name: Any) -> dict[str, Any]:
    """Our customer fields; the id falls back to the e-mail, then to "unknown"."""
    return {"id": str(identifier or email or "unknown"), "email": email or None, "name": name or None}


def build_ticket(**fields: Any) -> TicketIn:
    try:
        return TicketIn.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        location = ".".join(str(p) for p in first["loc"])
        raise PayloadError(location, f"{location}: {first['msg']}") from None


def parse_zendesk(document: Any, *, base_url: str | None = None) -> Event:
    """Our documented trigger body: `{"event": "ticket.created"|"ticket.solved", "ticket": {...}}`."""
    ticket = mapping(document, "ticket")
    ticket_id = str(dig(ticket, "id"))
    status = _name(ticket.get("status"))
    if document.get("event") == "ticket.solved" or status in RESOLVED_STATES:
        labels = intent_from_tags(ticket.get("tags"))
        if ticket.get("intent"):
            labels["label"] = str(ticket["intent"]).strip()
        return Resolved(ticket_id, labels, ticket.get("latest_public_comment") or None)
    requester = optional_mapping(ticket.get("requester"))
    return NewTicket(
        f"ticket-{ticket_id}-created",
        build_ticket(
            external_id=ticket_id,
            subject=ticket.get("subject") or "",
            body=str(dig(ticket, "description")),
            customer=customer(requester.get("id"), requester.get("email"), requester.get("name")),
            channel=_channel(ticket.get("via")),
            created_at=_timestamp(ticket.get("created_at")),
            # our trigger body may add {"plan": "{{ticket.organization.custom_fields.plan}}", …}
            attributes=optional_mapping(ticket.get("attributes")),
            attachments=attachments.zendesk(ticket),
        ),
    )


def parse_zammad(document: Any, *, base_url: str | None = None) -> Event:
    """Zammad's default trigger payload: `{"ticket": {...}, "article": {...}}` (the article is `{}` when the
    trigger fired without a new one, e.g. a state change). Its ticket has no `tags` (tags are not ticket
    attributes in Zammad): a closed ticket's final intent is then read from the tags API; a custom
    payload that does carry `tags` is used as it is."""
    ticket = mapping(document, "ticket")
    ticket_id = str(dig(ticket, "id"))
    article = optional_mapping(document.get("article"))
    if _name(ticket.get("state")) in RESOLVED_STATES:
        reply = None
        if article and not article.get("internal") and _name(article.get("sender")) == "agent":
            reply = _article_text(article)
        if "tags" not in ticket:
            return Resolved(ticket_id, {}, reply, labels_from_helpdesk=True)
        return Resolved(ticket_id, intent_from_tags(ticket.get("tags")), reply)
    if not article:
        return Ignored("no article in the payload")
    if _name(article.get("sender")) not in ("customer", ""):
        return Ignored(f"article from {_name(article.get('sender'))}, not the customer")
    person = optional_mapping(ticket.get("customer"))
    name = " ".join(p for p in (person.get("firstname"), person.get("lastname")) if p) or None
    return NewTicket(
        f"ticket-{ticket_id}-article-{dig(article, 'id')}",
        build_ticket(
            external_id=ticket_id,
            subject=ticket.get("title") or article.get("subject") or "",
            body=_article_text(article),
            customer=customer(person.get("id") or ticket.get("customer_id"), person.get("email"), name),
            channel=_channel(article.get("type")),
            created_at=_timestamp(article.get("created_at") or ticket.get("created_at")),
            attachments=attachments.zammad(article, ticket_id, base_url) if ticket_id.isdigit() else [],
        ),
    )


def _article_text(article: dict[str, Any]) -> str:
    body = str(article.get("body") or "")
    return plain_text(body) if "html" in str(article.get("content_type", "")) else body.strip()


def _adf_text(node: Any) -> str:
    """Jira Cloud's v3 API sends descriptions as Atlassian Document Format."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    text = node.get("text", "")
    inner = "".join(_adf_text(child) for child in node.get("content") or [])
    separator = "\n" if node.get("type") in ("paragraph", "heading", "listItem") else ""
    return text + inner + separator


def parse_jira(document: Any, *, base_url: str | None = None) -> Event:
    """`jira:issue_created` (a new request) or `jira:issue_updated` with a resolution (solved)."""
    event = str(dig(document, "webhookEvent"))
    issue = mapping(document, "issue")
    fields = mapping(issue, "fields")
    key = str(dig(issue, "key"))
    if event == "jira:issue_updated":
        if fields.get("resolution") is None and _name(fields.get("status")) not in RESOLVED_STATES:
            return Ignored("issue updated but not resolved")
        return Resolved(key, intent_from_tags(fields.get("labels")), None)
    if event != "jira:issue_created":
        return Ignored(f"event {event[:60]} is not handled")
    reporter = optional_mapping(fields.get("reporter"))
    return NewTicket(
        f"issue-{dig(issue, 'id')}-created",
        build_ticket(
            external_id=key,
            subject=fields.get("summary") or "",
            body=_adf_text(fields.get("description")).strip() or str(fields.get("summary") or ""),
            customer=customer(
                reporter.get("accountId"), reporter.get("emailAddress"), reporter.get("displayName")
            ),
            channel="portal",
            created_at=_timestamp(fields.get("created")),
            attachments=attachments.jira(fields),
        ),
    )


def parse_freshdesk(document: Any, *, base_url: str | None = None) -> Event:
    """The automation rule's JSON body: `{"freshdesk_webhook": {"ticket_id": ..., ...}}`."""
    ticket = mapping(document, "freshdesk_webhook")
    ticket_id = str(dig(ticket, "ticket_id"))
    if _name(ticket.get("ticket_status")) in RESOLVED_STATES:
        labels = intent_from_tags(ticket.get("ticket_tags"))
        reply = ticket.get("ticket_latest_public_comment")
        return Resolved(ticket_id, labels, plain_text(reply) if reply else None)
    email = ticket.get("ticket_contact_email") or None
    return NewTicket(
        f"ticket-{ticket_id}-created",
        build_ticket(
            external_id=ticket_id,
            subject=ticket.get("ticket_subject") or "",
            body=plain_text(str(dig(ticket, "ticket_description"))),
            customer=customer(ticket.get("ticket_requester_id"), email, ticket.get("ticket_contact_name")),
            channel=_channel(ticket.get("ticket_source")),
            created_at=_timestamp(ticket.get("ticket_created_at")),
            attachments=attachments.freshdesk(ticket),
        ),
    )
