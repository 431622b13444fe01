"""`GET /v1/deliveries?status=dead`, `POST /v1/deliveries/<id>/retry`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from services.gateway.auth import require_api_key
from services.gateway.deliveries.service import list_deliveries, requeue_dead_letter
from services.gateway.errors import ApiError
from services.gateway.resources import query_limit, resources
from shared.integrations.models import DeliveryStatus

MAX_ID = 2**63 - 1
bp = Blueprint("deliveries", __name__)


@bp.get("/v1/deliveries")
def get_deliveries() -> Response:
    require_api_key()
    status = request.args.get("status") or None
    if status is not None and status not in set(DeliveryStatus):
        raise ApiError(422, "invalid_parameter", f"status must be one of {sorted(DeliveryStatus)}")
    limit = query_limit()
    rows = list_deliveries(session_factory=resources().session_factory, status=status, limit=limit)
    return jsonify({"deliveries": [row.model_dump(mode="json") for row in rows]})


@bp.post("/v1/deliveries/<int:delivery_id>/retry")
def retry_delivery(delivery_id: int) -> Response:
    require_api_key("admin")
    res = resources()
    requeued = None
    if delivery_id <= MAX_ID:  # beyond a 64-bit key no row can exist (and the driver would overflow)
        requeued = requeue_dead_letter(session_factory=res.session_factory, delivery_id=delivery_id)
    if requeued is None:
        raise ApiError(404, "not_found", f"no delivery {delivery_id}")
    view, message = requeued
    res.dispatch(message)
    response = jsonify(view.model_dump(mode="json"))
    response.status_code = 202 if view.status == DeliveryStatus.PENDING else 200
    return response
