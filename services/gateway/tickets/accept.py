"""The HTTP answer to a ticket taken in, the same through the API and every webhook: 202 with the ticket's
id and status URL, or 200 with `duplicate: true` for an event already stored; 413/422 when its attachments
break a cap (nothing is stored then)."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from services.gateway.errors import ApiError
from services.gateway.resources import resources
from services.gateway.tickets.service import ingest_ticket
from shared.media.intake import AttachmentRejected, IntakeLimits
from shared.media.schemas import IncomingFile
from shared.tickets.schemas import TicketAccepted, TicketIn


def intake_limits() -> IntakeLimits:
    settings = resources().settings
    return IntakeLimits(
        max_files=settings.media_max_files,
        max_file_bytes=settings.media_max_file_bytes,
        max_ticket_bytes=settings.media_max_ticket_bytes,
    )


def intake_body_limit() -> int:
    """The request size an intake endpoint reads: the body limit, plus the attachments' cap as base64."""
    settings = resources().settings
    return settings.max_body_bytes + (settings.media_max_ticket_bytes * 4) // 3 + 64 * 1024


def accept_ticket(
    *, source: str, event_id: str, ticket: TicketIn, files: list[IncomingFile] | None = None
) -> Response:
    res = resources()
    try:
        result = ingest_ticket(
            session_factory=res.session_factory,
            publish=res.publish,
            source=source,
            event_id=event_id,
            ticket=ticket,
            files=files,
            limits=intake_limits(),
            on_left_pending=res.relay.wake,
            sent=res.sent_log,
            no_backlog=res.relay.no_backlog(),  # never true of a relay that does not run
        )
    except AttachmentRejected as exc:
        raise ApiError(413 if exc.too_large else 422, exc.code, exc.message) from None
    body = TicketAccepted(
        id=result.ticket_id,
        status=result.status,
        status_url=url_for("tickets.get_ticket", ticket_id=result.ticket_id, _external=True),
        duplicate=not result.created,
    )
    response = jsonify(body.model_dump())
    response.status_code = 202 if result.created else 200
    return response
