"""The webhooks: `POST /v1/webhooks/generic` (any sender, signed with `X-Helploop-Signature`) and
`POST /v1/webhooks/<integration>[/<token>]` (Zendesk, Zammad, Jira Service Management, Freshdesk)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.gateway.errors import ApiError
from services.gateway.feedback.service import UnknownTicket, record_resolution
from services.gateway.ratelimit import count_auth_failure, guard_webhook
from services.gateway.resources import parse_json_body, resources
from services.gateway.tickets.accept import accept_ticket, intake_body_limit
from services.gateway.webhooks import payloads, signatures
from shared.integrations.config import Integration, Provider
from shared.signing import SIGNATURE_HEADER, SignatureError, check_fresh, verify
from shared.tickets.schemas import WebhookEnvelope

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
PARSERS = {
    Provider.ZENDESK: payloads.parse_zendesk,
    Provider.ZAMMAD: payloads.parse_zammad,
    Provider.JIRA_SM: payloads.parse_jira,
    Provider.FRESHDESK: payloads.parse_freshdesk,
}
# Each helpdesk's delivery id (unsigned: logged to match the helpdesk's delivery log, never trusted for
# replay detection, which uses the signed ticket/article/issue ids), and Jira's retry count.
DELIVERY_HEADERS = ("X-Zammad-Delivery", "X-Atlassian-Webhook-Identifier", "X-Zendesk-Webhook-Invocation-Id")
RETRY_HEADER = "X-Atlassian-Webhook-Retry"
HEADER_VALUE = re.compile(r"^[\w.:-]{1,100}$")


def _basic_password() -> str | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return None


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(422, "invalid_json", "body is not valid JSON") from None


def _verify(integration: Integration, token: str | None, body: bytes) -> None:
    settings = resources().settings
    tolerance, secrets = settings.signature_tolerance_s, integration.secrets
    provider = integration.provider
    if provider is Provider.ZENDESK:
        signatures.verify_zendesk(request.headers, body, secrets, tolerance_s=tolerance, now=None)
    elif provider is Provider.ZAMMAD:
        signatures.verify_zammad(request.headers, body, secrets)
    elif provider is Provider.JIRA_SM:
        signatures.verify_jira(request.headers, body, secrets)
    elif provider is Provider.FRESHDESK and integration.webhook_token is not None:
        signatures.verify_token(token or _basic_password(), integration.webhook_token.get_secret_value())
    else:
        raise ApiError(404, "not_found", f"integration {integration.name!r} receives no webhooks here")


def _integration(name: str) -> Integration:
    integration = resources().integrations.get(name[:32])
    if integration is None or integration.provider not in PARSERS:
        raise ApiError(404, "unknown_integration", f"no helpdesk integration named {name[:32]!r}")
    return integration


@bp.post("/v1/webhooks/generic")
def generic_webhook() -> Response:
    settings = resources().settings
    request.max_content_length = intake_body_limit()  # attachments may come inline, as base64
    guard_webhook(
        "generic",
        lambda: verify(
            request.headers.get(SIGNATURE_HEADER),
            request.get_data(cache=True),
            settings.webhook_secrets,
            tolerance_s=settings.signature_tolerance_s,
        ),
    )
    envelope = parse_json_body(WebhookEnvelope)
    return accept_ticket(source="generic", event_id=envelope.event_id, ticket=envelope.ticket)


@bp.post("/v1/webhooks/<name>")
@bp.post("/v1/webhooks/<name>/<token>")
def provider_webhook(name: str, token: str | None = None) -> Response:
    integration = _integration(name)
    body = request.get_data(cache=True)
    guard_webhook(integration.name, lambda: _verify(integration, token, body))  # before parsing anything
    document = _document(body)
    if integration.provider is Provider.JIRA_SM:
        _check_jira_window(document)
    event = _parse(integration, document)
    log.info("webhook %s: %s (delivery %s)", integration.name, type(event).__name__, _delivery())
    if isinstance(event, payloads.NewTicket):
        return accept_ticket(source=integration.name, event_id=event.event_id, ticket=event.ticket)
    if isinstance(event, payloads.Resolved):
        return _resolved(integration, event)
    return jsonify({"status": "ignored", "reason": event.reason})


def _delivery() -> str:
    """The helpdesk's delivery id and retry count, as far as it sends them (for the log line only)."""
    delivery = next((request.headers[n] for n in DELIVERY_HEADERS if n in request.headers), "-")
    shown = delivery if HEADER_VALUE.match(delivery) else "(malformed)"
    retry = request.headers.get(RETRY_HEADER, "")
    return f"{shown}, retry {retry}" if retry.isdigit() and len(retry) < 4 else shown


def _parse(integration: Integration, document: Any) -> payloads.Event:
    provider = integration.provider
    try:
        event = PARSERS[provider](document, base_url=integration.base_url)
    except payloads.PayloadError as exc:
        fields = [{"field": exc.field, "message": str(exc)}]
        raise ApiError(422, "invalid_payload", f"{provider} payload: {exc}", fields=fields) from None
    except (TypeError, AttributeError, RecursionError):  # a field of an unexpected type or depth
        raise ApiError(422, "invalid_payload", f"{provider} payload has an unexpected shape") from None
    if isinstance(event, payloads.NewTicket) and len(event.event_id) > 200:
        raise ApiError(422, "invalid_payload", "ticket or article id too long")
    return event


def _check_jira_window(document: Any) -> None:
    """Jira signs the body, not the time of sending, and retries a failed delivery with the same body (up to
    30 minutes late, it documents): the body's `timestamp` (milliseconds) must be within
    `HELPLOOP_JIRA_DELIVERY_WINDOW_S`. Inside it a replay is a duplicate of the signed issue id."""
    stamp = document.get("timestamp") if isinstance(document, dict) else None
    if not isinstance(stamp, int):
        return
    window = resources().settings.jira_delivery_window_s
    try:
        check_fresh(stamp / 1000.0, window)
    except SignatureError as exc:
        count_auth_failure()
        raise ApiError(401, "invalid_signature", f"{exc}: Jira deliveries are taken {window} s") from None


def _resolved(integration: Integration, event: payloads.Resolved) -> Response:
    try:
        resolution = record_resolution(
            session_factory=resources().session_factory,
            source=integration.name,
            external_id=event.external_id,
            final_labels=event.final_labels,
            reply=event.reply,
            fetch_labels=event.labels_from_helpdesk,
        )
    except UnknownTicket:
        return jsonify({"status": "ignored", "reason": "ticket was never received by helploop"})
    if event.labels_from_helpdesk:  # staged with the resolution: the worker reads the ticket's final tags
        resources().relay.wake()
    return jsonify({"status": "recorded", "resolution": resolution.model_dump(mode="json")})
