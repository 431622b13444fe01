"""Every error leaves the gateway as JSON: `{"error", "message", "fields", "request_id"}`; nothing bad in
becomes a 500, and no 5xx body carries a path or an exception's text: those go to the log, under the
request id the response names (header `X-Request-Id`)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request
from pydantic import BaseModel, Field, ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")  # a caller's own id is kept when it looks like one


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error's JSON body (the OpenAPI document's error schema)."""

    error: str
    message: str
    fields: list[ErrorField] = Field(default_factory=list)
    request_id: str | None = None  # also the `X-Request-Id` header; the log names it beside the details


def assign_request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    return g.request_id


def request_id() -> str:
    """This request's id (assigned on first use: an error can precede the hook that assigns it)."""
    return g.get("request_id") or assign_request_id()


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        log_detail: str | None = None,
    ) -> None:
        """`log_detail`: what went wrong inside (an exception's text), for the log only, never the body."""
        super().__init__(message)
        self.log_detail = log_detail
        self.status = status
        self.error = error
        self.message = message
        self.fields = fields or []
        self.headers = headers or {}


def validation_fields(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as `[{"field": "ticket.customer.id", "message": ...}]`, without echoing input."""
    fields = []
    for item in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "body"
        fields.append({"field": location, "message": item["msg"]})
    return fields


def error_response(status: int, error: str, message: str, **extra: Any) -> Response:
    payload: dict[str, Any] = {"error": error, "message": message, "fields": extra.pop("fields", [])}
    payload["request_id"] = request_id()
    payload.update(extra)
    response = jsonify(payload)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        if exc.status >= 500:
            log.warning("%s (request %s): %s %s", exc.error, request_id(), exc.message, exc.log_detail or "")
        response = error_response(exc.status, exc.error, exc.message, fields=exc.fields)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        return error_response(
            422, "validation_error", "request body failed validation", fields=validation_fields(exc)
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name or "error"
        if code >= 500:  # werkzeug's own text for its 5xx, never an exception's
            log.error("HTTP %d (request %s): %s", code, request_id(), message)
            message = exc.name or "server error"
        response = error_response(code, name, message)
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.error("unhandled error (request %s): %s", request_id(), exc, exc_info=exc)
        return error_response(
            500, "internal_error", "internal error; the log has the details under this request_id"
        )
