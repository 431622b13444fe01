"""HTTP endpoints of the tickets domain: generic webhook, API intake, status."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request, url_for

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.ratelimit import guard_webhook
from services.gateway.resources import parse_json_body, resources
from services.gateway.tickets.service import get_ticket_view, ingest_ticket
from shared.schemas import ApiTicketEnvelope, TicketAccepted, TicketIn, WebhookEnvelope
from shared.signing import SIGNATURE_HEADER, verify

bp = Blueprint("tickets", __name__)


def accept_ticket(*, source: str, event_id: str, ticket: TicketIn) -> Response:
    res = resources()
    result = ingest_ticket(
        session_factory=res.session_factory,
        publish=res.publish,
        source=source,
        event_id=event_id,
        ticket=ticket,
        on_left_pending=res.relay.wake,
    )
    body = TicketAccepted(
        id=result.ticket_id,
        status=result.status,
        status_url=url_for("tickets.get_ticket", ticket_id=result.ticket_id, _external=True),
        duplicate=not result.created,
    )
    response = jsonify(body.model_dump())
    response.status_code = 202 if result.created else 200
    return response


@bp.post("/v1/webhooks/generic")
def generic_webhook() -> Response:
    settings = resources().settings
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


@bp.post("/v1/tickets")
def create_ticket() -> Response:
    require_api_key("ingest")
    envelope = parse_json_body(ApiTicketEnvelope)
    event_id = envelope.event_id or request.headers.get("Idempotency-Key", "").strip()[:200]
    return accept_ticket(source="api", event_id=event_id or uuid.uuid4().hex, ticket=envelope.ticket)


@bp.get("/v1/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> Response:
    require_api_key()
    view = get_ticket_view(session_factory=resources().session_factory, ticket_id=ticket_id[:64])
    if view is None:
        raise ApiError(404, "not_found", f"no ticket with id {ticket_id[:64]!r}")
    return jsonify(view.model_dump(mode="json"))
