"""How each helpdesk's REST API takes a note, a reply or a callback (shared/notes/helpdesks.md).

A delivery is one non-idempotent `primary` call (the note/reply), idempotent `followups` (tags), and a
`lookup` that lists what the ticket already has, so a retry after an unknown outcome never posts twice.
`TAG_READERS`: how to read a ticket's current tags where the helpdesk's webhook does not carry them.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from shared.integrations.config import Integration, Provider
from shared.integrations.models import DeliveryKind
from shared.signing import SIGNATURE_HEADER, sign


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class Plan:
    primary: HttpCall
    followups: list[HttpCall]
    lookup: HttpCall | None  # None: the receiver deduplicates (generic callbacks carry a delivery id)
    needle: str  # what identifies this delivery in the lookup's listing


def _json_call(method: str, url: str, document: Any, **kwargs: Any) -> HttpCall:
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return HttpCall(method, url, json.dumps(document).encode(), headers=headers, **kwargs)


def _secret(integration: Integration) -> str:
    return integration.api_token.get_secret_value() if integration.api_token else ""


def _base(integration: Integration) -> str:
    return (integration.base_url or "").rstrip("/")


def _needle(kind: str, payload: dict[str, Any]) -> str:
    """Notes carry a marker line; a public reply is recognised by its exact text."""
    return payload["marker"] if kind == DeliveryKind.NOTE else payload["text"].strip()


def zendesk_plan(integration: Integration, kind: str, payload: dict[str, Any]) -> Plan:
    ticket_url = f"{_base(integration)}/api/v2/tickets/{quote(payload['external_id'], safe='')}"
    auth = (f"{integration.email}/token", _secret(integration))
    update: dict[str, Any] = {"comment": {"body": payload["text"], "public": kind == DeliveryKind.REPLY}}
    if kind == DeliveryKind.NOTE:
        update["additional_tags"] = payload["tags"]
        fields = payload.get("fields") or {}
        if fields:
            update["custom_fields"] = [
                {"id": integration.custom_fields[name], "value": value} for name, value in fields.items()
            ]
    return Plan(
        primary=_json_call("PUT", f"{ticket_url}.json", {"ticket": update}, auth=auth),
        followups=[],
        lookup=HttpCall("GET", f"{ticket_url}/comments.json", auth=auth),
        needle=_needle(kind, payload),
    )


def zammad_plan(integration: Integration, kind: str, payload: dict[str, Any]) -> Plan:
    base, ticket_id = _base(integration), int(payload["external_id"])
    headers = {"Authorization": f"Token token={_secret(integration)}"}
    article: dict[str, Any] = {
        "ticket_id": ticket_id,
        "body": payload["text"],
        "content_type": "text/plain",
        "type": "note",
        "internal": True,
        "subject": "helploop triage",
    }
    if kind == DeliveryKind.REPLY:
        article.update(internal=False, subject="Re: your request")
        if payload.get("customer_email"):
            article.update(type="email", to=payload["customer_email"])
    tags = [
        _json_call(
            "POST",
            f"{base}/api/v1/tags/add",
            {"object": "Ticket", "o_id": ticket_id, "item": name},
            headers=headers,
        )
        for name in (payload.get("tags") or [])
    ]
    return Plan(
        primary=_json_call("POST", f"{base}/api/v1/ticket_articles", article, headers=headers),
        followups=tags,
        lookup=HttpCall("GET", f"{base}/api/v1/ticket_articles/by_ticket/{ticket_id}", headers=headers),
        needle=_needle(kind, payload),
    )


def zammad_tags_call(integration: Integration, external_id: str) -> HttpCall:
    """Zammad's tags API: `GET /api/v1/tags?object=Ticket&o_id=<id>` answers `{"tags": [...]}`."""
    headers = {"Authorization": f"Token token={_secret(integration)}"}
    url = f"{_base(integration)}/api/v1/tags?object=Ticket&o_id={quote(str(external_id), safe='')}"
    return HttpCall("GET", url, headers=headers)


def _html(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.splitlines())


def freshdesk_plan(integration: Integration, kind: str, payload: dict[str, Any]) -> Plan:
    ticket_url = f"{_base(integration)}/api/v2/tickets/{quote(payload['external_id'], safe='')}"
    auth = (_secret(integration), "X")
    if kind == DeliveryKind.REPLY:
        primary = _json_call("POST", f"{ticket_url}/reply", {"body": _html(payload["text"])}, auth=auth)
    else:
        document = {"body": _html(payload["text"]), "private": True}
        primary = _json_call("POST", f"{ticket_url}/notes", document, auth=auth)
    return Plan(
        primary=primary,
        followups=[],
        lookup=HttpCall("GET", f"{ticket_url}/conversations", auth=auth),
        needle=_needle(kind, payload),
    )


def jira_plan(integration: Integration, kind: str, payload: dict[str, Any]) -> Plan:
    key = quote(payload["external_id"], safe="")
    url = f"{_base(integration)}/rest/servicedeskapi/request/{key}/comment"
    auth = (integration.email or "", _secret(integration))
    document = {"body": payload["text"], "public": kind == DeliveryKind.REPLY}
    return Plan(
        primary=_json_call("POST", url, document, auth=auth),
        followups=[],
        lookup=HttpCall("GET", url, auth=auth),
        needle=_needle(kind, payload),
    )


def generic_plan(integration: Integration, kind: str, payload: dict[str, Any]) -> Plan:
    body = json.dumps(payload["body"], sort_keys=True).encode()
    secret = integration.callback_secret.get_secret_value() if integration.callback_secret else ""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        "X-Helploop-Delivery": payload["marker"],
    }
    call = HttpCall("POST", integration.callback_url or "", body, headers=headers)
    return Plan(primary=call, followups=[], lookup=None, needle=payload["marker"])


PLANNERS = {
    Provider.ZENDESK: zendesk_plan,
    Provider.ZAMMAD: zammad_plan,
    Provider.FRESHDESK: freshdesk_plan,
    Provider.JIRA_SM: jira_plan,
    Provider.GENERIC: generic_plan,
}


TAG_READERS = {Provider.ZAMMAD: zammad_tags_call}  # helpdesks whose webhooks lack the ticket's tags


def listed_items(document: Any) -> list[dict[str, Any]]:
    """Zendesk `{"comments": [...]}`, Jira `{"values": [...]}`, Zammad and Freshdesk a bare list."""
    if isinstance(document, dict):
        document = document.get("comments", document.get("values", []))
    return [item for item in document or [] if isinstance(item, dict)]


def find_posted(document: Any, needle: str) -> str | None:
    """The id of the listed note/comment containing `needle`, if any."""
    for item in listed_items(document):
        texts = [item.get(k) for k in ("body", "plain_body", "body_text", "html_body")]
        if any(isinstance(t, str) and needle in html.unescape(t) for t in texts):
            return str(item.get("id", "")) or "found"
    return None
