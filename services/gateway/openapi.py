"""The HTTP API as an OpenAPI 3.1 document, served at `/openapi.json`: every route of the app, its request
body (the same pydantic models the views validate with), path and query parameters, authentication and
responses. `tests/test_openapi.py` keeps it complete and drives every operation with schemathesis."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel

from services.gateway.errors import ErrorBody
from shared.access.schemas import AuditLog
from shared.integrations.schemas import ResolutionIn
from shared.kb.schemas import KbArticleIn, KbArticleView, KbSearchResult
from shared.learning.schemas import ActivateRequest, ReclassifyIn, TrainingRunIn
from shared.tickets.schemas import ApiTicketEnvelope, TicketAccepted, TicketView, WebhookEnvelope

bp = Blueprint("openapi", __name__)
UNDOCUMENTED = {"static"}  # Flask's static files: none are served
CONSOLE_PREFIX = "console."  # the console's HTML pages and their forms (services/gateway/console)


def documented(endpoint: str) -> bool:
    """An API operation of the OpenAPI document (not a static file, not a console page)."""
    return endpoint not in UNDOCUMENTED and not endpoint.startswith(CONSOLE_PREFIX)


@dataclass(frozen=True)
class Operation:
    summary: str
    auth: str = "read"  # an API key scope ("read", "ingest", "admin"), "signature" (a webhook), "none"
    body: type[BaseModel] | None = None
    body_optional: bool = False
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    ok: tuple[int, type[BaseModel] | None] = (200, None)
    errors: tuple[int, ...] = (404,)
    multipart: bool = False  # also takes multipart/form-data: the JSON as part `envelope`, files `attachment`


MULTIPART_TICKET = {
    "type": "object",
    "properties": {
        "envelope": {"type": "string", "description": "the same JSON document as the application/json body"},
        "attachment": {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
    "required": ["envelope"],
}
KIND_QUERY = {"kind": {"type": "string", "enum": ["classifier", "generator", "encoder"]}}
OPERATIONS: dict[str, Operation] = {
    "metrics": Operation("Prometheus metrics (text exposition format)", auth="none", errors=()),
    "health.healthz": Operation("Liveness: the process answers", auth="none", errors=()),
    "health.readyz": Operation("Readiness: database, Redis and an active model", auth="none", errors=(503,)),
    "openapi.openapi_document": Operation("This document", auth="none", errors=()),
    "webhooks.generic_webhook": Operation(
        "Ingest a ticket from any system (HMAC-signed)",
        "signature",
        WebhookEnvelope,
        ok=(202, TicketAccepted),
        errors=(401, 413, 415, 422),
    ),
    "tickets.create_ticket": Operation(
        "Ingest a ticket through the API (JSON, or multipart with file attachments)",
        "ingest",
        ApiTicketEnvelope,
        ok=(202, TicketAccepted),
        errors=(413, 415, 422),
        multipart=True,
    ),
    "tickets.get_ticket": Operation(
        "A ticket with its classification, draft, route and deliveries", ok=(200, TicketView)
    ),
    "webhooks.provider_webhook": Operation(
        "Ingest from Zendesk, Zammad, Jira Service Management or Freshdesk (provider signatures)",
        "signature",
        errors=(401, 404, 413, 415, 422),
    ),
    "feedback.post_resolution": Operation(
        "An agent's final answer and labels", "ingest", ResolutionIn, errors=(404, 409, 422)
    ),
    "kb.create_article": Operation(
        "Add or replace a knowledge-base article",
        "admin",
        KbArticleIn,
        ok=(201, KbArticleView),
        errors=(422,),
    ),
    "kb.read_article": Operation("A knowledge-base article", ok=(200, KbArticleView)),
    "kb.remove_article": Operation("Delete a knowledge-base article", "admin", ok=(204, None)),
    "kb.search": Operation(
        "Search the knowledge base",
        ok=(200, KbSearchResult),
        errors=(401, 422, 503, 504),
        query={"q": {"type": "string"}, "k": {"type": "integer"}},
    ),
    "deliveries.get_deliveries": Operation(
        "Write-back deliveries, newest first",
        errors=(401, 422),
        query={"status": {"type": "string"}, "limit": {"type": "integer"}},
    ),
    "deliveries.retry_delivery": Operation("Retry a dead-lettered delivery", "admin", errors=(404, 409)),
    "models.get_models": Operation(
        "Registered versions (classifier, or ?kind=generator|encoder), active and shadow",
        errors=(401, 422),
        query=KIND_QUERY,
    ),
    "models.get_model": Operation(
        "One version's manifest and evaluation", errors=(401, 404, 422), query=KIND_QUERY
    ),
    "models.activate": Operation(
        "Activate a version (gated unless forced)",
        "admin",
        ActivateRequest,
        body_optional=True,
        errors=(401, 403, 404, 409, 422),
        query=KIND_QUERY,
    ),
    "models.rollback": Operation(
        "Switch back to the previous active version", "admin", errors=(401, 403, 409, 422), query=KIND_QUERY
    ),
    "models.set_shadow": Operation(
        "Run a classifier (or ?kind=generator) version in shadow beside the active one",
        "admin",
        errors=(401, 403, 404, 409, 422),
        query=KIND_QUERY,
    ),
    "models.clear_shadow": Operation("Stop shadowing", "admin", errors=(401, 403, 422), query=KIND_QUERY),
    "training.start_training_run": Operation(
        "Start a retraining run now",
        "admin",
        TrainingRunIn,
        body_optional=True,
        ok=(202, None),
        errors=(409, 422),
    ),
    "training.get_training_runs": Operation("Training runs, newest first", errors=(401,)),
    "training.get_training_run": Operation("One training run with its gate report"),
    "learning.reclassify": Operation(
        "Reclassify a time window with a model version",
        "admin",
        ReclassifyIn,
        ok=(202, None),
        errors=(401, 403, 404, 422, 503),
    ),
    "learning.get_job": Operation("A batch job's progress"),
    "learning.resume_job": Operation(
        "Re-dispatch a batch job's unfinished chunks", "admin", errors=(401, 403, 404, 409, 503)
    ),
    "learning.get_shadow_report": Operation("Agreement of a shadow version with the active one"),
    "learning.get_live_accuracy": Operation(
        "Live accuracy from agents' resolutions",
        errors=(401, 404, 422),
        query={"window_days": {"type": "number"}, "model_version": {"type": "string"}},
    ),
    "learning.get_draft_adoption": Operation(
        "What agents did with the drafts: sent as is, edited or discarded (overall, per intent, generator "
        "version, language, draft source)",
        errors=(401, 422),
        query={"window_days": {"type": "number"}},
    ),
    "learning.get_shadow_drafts_report": Operation(
        "A shadow generator's drafts beside the served ones: model share, flags, latency, and what agents "
        "would have kept, scored on their final replies (overall, per language, per intent)",
        errors=(401, 404, 422),
        query={"window_days": {"type": "number"}, "version": {"type": "string"}},
    ),
    "access.get_audit_log": Operation(
        "Admin requests (allowed or refused), newest first",
        "admin",
        ok=(200, AuditLog),
        errors=(422,),
        query={"limit": {"type": "integer"}},
    ),
}
KEY_SCOPES = ("read", "ingest", "admin")

SECURITY = {
    **{scope: [{"apiKey": []}] for scope in KEY_SCOPES},
    "signature": [],  # checked from the body's signature header (see docs/helpdesks.md)
    "none": [],
}


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """`/v1/x/<int:id>` → (`/v1/x/{id}`, its path parameters)."""
    parameters = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        schema = {"type": "integer"} if converter == "int" else {"type": "string", "minLength": 1}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), parameters


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    document = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(document.pop("$defs", {}))
    components[model.__name__] = document
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _responses(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    status, model = op.ok
    ok: dict[str, Any] = {"description": "success"}
    if model is not None:
        ok["content"] = {"application/json": {"schema": _schema(model, components)}}
    error = {"application/json": {"schema": _schema(ErrorBody, components)}}
    responses = {str(status): ok}
    if status == 202 and op.auth in ("signature", "ingest"):
        responses["200"] = {"description": "a replay of an accepted event", "content": ok.get("content", {})}
    limited = (429,) if op.auth != "none" else ()  # rate limits: per API key, per integration
    auth_errors = (401, 403) if op.auth in KEY_SCOPES else ()  # 403: a valid key without the scope
    for code in sorted({*op.errors, *auth_errors, *limited}):
        responses[str(code)] = {"description": "error", "content": error}
    return responses


def _operation(
    endpoint: str, method: str, path: str, parameters: list[dict[str, Any]], components: dict[str, Any]
) -> dict[str, Any]:
    op = OPERATIONS[endpoint]
    query = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in op.query.items()]
    document: dict[str, Any] = {
        "operationId": re.sub(r"\W+", "_", f"{method} {path}").strip("_"),  # unique per method and path
        "summary": op.summary,
        "security": SECURITY[op.auth],
        **({"x-helploop-scope": op.auth} if op.auth in KEY_SCOPES else {}),
        "parameters": parameters + query,
        "responses": _responses(op, components),
    }
    if op.body is not None:
        document["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": _schema(op.body, components)}},
        }
        if op.multipart:
            document["requestBody"]["content"]["multipart/form-data"] = {"schema": MULTIPART_TICKET}
    elif method == "post" and op.auth == "signature":
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return document


def build_spec(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        if not documented(rule.endpoint):
            continue
        path, parameters = _openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, method.lower(), path, parameters, components
            )
    return {
        "openapi": "3.1.0",
        "info": {"title": "helploop gateway", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a key from `helploop keys create` (or HELPLOOP_API_KEYS / "
                    "HELPLOOP_ADMIN_API_KEYS) with the scope an operation's x-helploop-scope names; "
                    "`admin` passes every scope",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document() -> Response:
    spec = current_app.extensions.get("helploop_openapi")
    if spec is None:
        spec = current_app.extensions["helploop_openapi"] = build_spec(current_app)
    return jsonify(spec)
