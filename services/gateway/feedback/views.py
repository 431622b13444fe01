"""`POST /v1/tickets/<id>/resolution`: the final labels and the reply the agent sent."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.feedback.service import UnknownTicket, record_resolution
from services.gateway.resources import parse_json_body, resources
from shared.integrations.schemas import ResolutionIn

bp = Blueprint("feedback", __name__)


@bp.post("/v1/tickets/<ticket_id>/resolution")
def post_resolution(ticket_id: str) -> Response:
    require_api_key("ingest")
    body = parse_json_body(ResolutionIn)
    labels = dict(body.labels)
    if body.intent:
        labels["label"] = body.intent
    try:
        view = record_resolution(
            session_factory=resources().session_factory,
            source="api",
            ticket_id=ticket_id[:64],
            final_labels=labels,
            reply=body.reply,
            resolved_at=body.resolved_at,
        )
    except UnknownTicket:
        raise ApiError(404, "not_found", f"no ticket with id {ticket_id[:64]!r}") from None
    return jsonify(view.model_dump(mode="json"))
