"""HTTP endpoints of the tickets domain: API intake and status (helpdesks' webhooks: `webhooks/views.py`)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.resources import parse_json_body, resources
from services.gateway.tickets.accept import accept_ticket
from services.gateway.tickets.service import get_ticket_view
from shared.tickets.schemas import ApiTicketEnvelope

bp = Blueprint("tickets", __name__)


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
