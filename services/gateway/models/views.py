"""The model registries over HTTP: `GET /v1/models[/<v>]`; admin: activate, rollback, shadow.
`?kind=generator` (or `encoder`) reads and switches the reply generator's (the sentence encoder's)
registry instead of the classifier's. A shadow classifier predicts beside the active one on live tickets, a
shadow generator drafts beside the active one (`GET /v1/drafts/shadow-report`); the encoder has none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.resources import parse_json_body, resources
from shared import model_lifecycle as lifecycle
from shared.learning.schemas import ActivateRequest
from shared.registry import Registry, RegistryError, VersionNotFound

bp = Blueprint("models", __name__)


KINDS = ("classifier", "generator", "encoder")


def _kind() -> str:
    kind = request.args.get("kind", "classifier")
    if kind not in KINDS:
        raise ApiError(422, "invalid_parameter", f"kind must be one of {', '.join(KINDS)}")
    return kind


def _registry() -> Registry:
    kind, settings = _kind(), resources().settings
    if kind == "classifier":
        return resources().registry
    return Registry(settings.generator_registry_dir if kind == "generator" else settings.encoder_registry_dir)


def _registry_call(func: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    try:
        return func(registry=_registry(), **kwargs)
    except VersionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except RegistryError as exc:
        raise ApiError(409, "conflict", str(exc)) from None


@bp.get("/v1/models")
def get_models() -> Response:
    require_api_key()
    registry = _registry()
    return jsonify(
        {
            "active": registry.active_version(),
            "shadow": registry.shadow_version(),
            "previous": registry.active_record().get("previous", []),
            "models": lifecycle.list_models(registry),
        }
    )


@bp.get("/v1/models/<version>")
def get_model(version: str) -> Response:
    require_api_key()
    return jsonify(_registry_call(lambda registry: lifecycle.describe_model(registry, version)))


@bp.post("/v1/models/<version>/activate")
def activate(version: str) -> Response:
    require_api_key("admin")
    body = parse_json_body(ActivateRequest) if request.get_data(cache=True).strip() else ActivateRequest()
    result = _registry_call(
        lifecycle.activate_model,
        version=version,
        redis_client=resources().redis,
        force=body.force,
        kind=_kind(),
    )
    return jsonify(result)


@bp.post("/v1/models/rollback")
def rollback() -> Response:
    require_api_key("admin")
    return jsonify(_registry_call(lifecycle.rollback_model, redis_client=resources().redis, kind=_kind()))


@bp.put("/v1/models/shadow/<version>")
def set_shadow(version: str) -> Response:
    require_api_key("admin")
    kind = _kind()
    if kind == "encoder":
        raise ApiError(
            422, "invalid_parameter", "classifier and generator versions run in shadow, not encoders"
        )
    return jsonify(
        _registry_call(lifecycle.set_shadow_model, version=version, redis_client=resources().redis, kind=kind)
    )


@bp.delete("/v1/models/shadow")
def clear_shadow() -> Response:
    require_api_key("admin")
    return jsonify(
        _registry_call(lifecycle.set_shadow_model, version=None, redis_client=resources().redis, kind=_kind())
    )
