"""The HTTP answer to a ticket taken in, the same through the API and every webhook: 202 with the ticket's
id and status URL, or 200 with `duplicate: true` for an event already stored."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from services.gateway.resources import resources
from services.gateway.tickets.service import ingest_ticket
from shared.tickets.schemas import TicketAccepted, TicketIn


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
