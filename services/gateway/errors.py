"""Every error leaves the gateway as JSON: `{"error", "message", "fields"}`; nothing bad in becomes a 500."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
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
    payload.update(extra)
    response = jsonify(payload)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
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
        response = error_response(code, name, exc.description or exc.name or "error")
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.error("unhandled error: %s", exc, exc_info=exc)
        return error_response(500, "internal_error", "internal error; the request was logged")
