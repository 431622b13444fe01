"""`GET /v1/audit`: the audit log of admin requests, newest first (admin scope; reading it is audited)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.gateway.auth import require_api_key
from services.gateway.resources import query_limit, resources
from shared.access.schemas import AuditEntryView, AuditLog
from shared.access.service import list_audit

bp = Blueprint("access", __name__)


@bp.get("/v1/audit")
def get_audit_log() -> Response:
    require_api_key("admin")
    limit = query_limit()
    rows = list_audit(session_factory=resources().session_factory, limit=limit)
    entries = [AuditEntryView.model_validate(row, from_attributes=True) for row in rows]
    return jsonify(AuditLog(entries=entries).model_dump(mode="json"))
