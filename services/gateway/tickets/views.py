"""HTTP endpoints of the tickets domain: API intake and status (helpdesks' webhooks: `webhooks/views.py`).

`POST /v1/tickets` takes JSON (attachments as URLs or base64 in `ticket.attachments`) or
`multipart/form-data`: a part `envelope` holding the same JSON document and any number of file parts named
`attachment`."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError, validation_fields
from services.gateway.resources import parse_json_body, resources
from services.gateway.tickets.accept import accept_ticket, intake_body_limit
from services.gateway.tickets.service import get_ticket_view
from shared.media.schemas import IncomingFile
from shared.tickets.schemas import ApiTicketEnvelope

bp = Blueprint("tickets", __name__)


def _printable(value: str | None) -> str:
    """A name as the client sent it, without what a database cannot store (NULs, lone surrogates)."""
    return (value or "").replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:255]


def _multipart_envelope() -> tuple[ApiTicketEnvelope, list[IncomingFile]]:
    raw = request.form.get("envelope")
    if raw is None:
        raise ApiError(422, "validation_error", "multipart body needs a part named 'envelope' (the JSON)")
    try:
        document: Any = json.loads(raw)
        envelope = ApiTicketEnvelope.model_validate(document)
    except (ValueError, RecursionError):
        raise ApiError(422, "invalid_json", "the 'envelope' part is not valid JSON") from None
    except ValidationError as exc:
        fields = validation_fields(exc)
        raise ApiError(422, "validation_error", "envelope failed validation", fields=fields) from None
    files = [
        IncomingFile(
            _printable(upload.filename) or "attachment",
            _printable(upload.mimetype) or None,
            content=upload.read(),
        )
        for upload in request.files.getlist("attachment")
    ]
    return envelope, files


@bp.post("/v1/tickets")
def create_ticket() -> Response:
    require_api_key("ingest")
    request.max_content_length = intake_body_limit()
    files: list[IncomingFile] = []
    if request.mimetype == "multipart/form-data":
        envelope, files = _multipart_envelope()
    else:
        envelope = parse_json_body(ApiTicketEnvelope)
    event_id = envelope.event_id or request.headers.get("Idempotency-Key", "").strip()[:200]
    return accept_ticket(
        source="api", event_id=event_id or uuid.uuid4().hex, ticket=envelope.ticket, files=files
    )


@bp.get("/v1/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> Response:
    require_api_key()
    view = get_ticket_view(session_factory=resources().session_factory, ticket_id=ticket_id[:64])
    if view is None:
        raise ApiError(404, "not_found", f"no ticket with id {ticket_id[:64]!r}")
    return jsonify(view.model_dump(mode="json"))
