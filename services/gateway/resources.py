"""What the gateway holds per process, built in `init_app` from settings (never at import time)."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from celery import Celery
from flask import Flask, current_app, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.errors import ApiError, validation_fields
from shared.celery_app import (
    QUEUE_CALLBACKS,
    QUEUE_TRAINING,
    QUEUE_TRIAGE,
    TASK_CLASSIFY,
    TASK_RETRAIN,
    TASK_WRITEBACK,
    create_celery,
)
from shared.db import build_engine, build_session_factory
from shared.integrations.config import Integration, load_integrations
from shared.redis_client import redis_from_settings
from shared.registry import Registry
from shared.settings import Settings

EXTENSION_KEY = "helploop"
FAIL_FAST = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
M = TypeVar("M", bound=BaseModel)


@dataclass
class Resources:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    celery: Celery
    redis: redis.Redis
    registry: Registry
    integrations: dict[str, Integration]

    def _publish(self, task: str, arg: str | int, queue: str) -> None:
        """Publish by task name; only the id travels. Fails fast when Redis is away; fire and forget (no
        result subscription on the way)."""
        self.celery.send_task(
            task, args=[arg], queue=queue, retry=True, retry_policy=FAIL_FAST, ignore_result=True
        )

    def enqueue_classification(self, ticket_id: str) -> None:
        self._publish(TASK_CLASSIFY, ticket_id, QUEUE_TRIAGE)

    def enqueue_writeback(self, delivery_id: int) -> None:
        self._publish(TASK_WRITEBACK, delivery_id, QUEUE_CALLBACKS)

    def enqueue_retrain(self, run_id: str) -> None:
        self._publish(TASK_RETRAIN, run_id, QUEUE_TRAINING)


def init_resources(app: Flask, settings: Settings) -> Resources:
    engine = build_engine(settings.database_url)
    resources = Resources(
        settings=settings,
        engine=engine,
        session_factory=build_session_factory(engine),
        celery=create_celery(settings, name="helploop-gateway"),
        redis=redis_from_settings(
            settings,
            socket_connect_timeout=settings.broker_connect_timeout_s,
            socket_timeout=settings.broker_connect_timeout_s,
        ),
        registry=Registry(settings.model_registry_dir),
        integrations=load_integrations(settings.integrations_file),
    )
    app.extensions[EXTENSION_KEY] = resources
    return resources


def resources() -> Resources:
    return current_app.extensions[EXTENSION_KEY]


def _unauthorized(status: int, message: str) -> ApiError:
    code = "unauthorized" if status == 401 else "forbidden"
    return ApiError(status, code, message, headers={"WWW-Authenticate": 'Bearer realm="helploop"'})


def _matches(given: bytes, keys: list[str]) -> bool:
    matched = False
    for key in keys:  # every key compared, in constant time each
        matched |= hmac.compare_digest(key.encode("utf-8"), given)
    return matched


def require_api_key(scope: str = "read") -> None:
    """Bearer authentication against the configured keys. Scope `admin` (training, activation, rollback,
    reclassification) needs one of HELPLOOP_ADMIN_API_KEYS; those keys also pass every `read` check."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(401, "missing bearer API key")
    given = token.strip().encode("utf-8", "replace")
    settings = resources().settings
    is_admin = _matches(given, settings.admin_api_keys)
    if scope == "admin":
        if is_admin:
            return
        if _matches(given, settings.api_keys):
            raise _unauthorized(403, "this endpoint needs an admin API key")
        raise _unauthorized(401, "invalid API key")
    if not (is_admin or _matches(given, settings.api_keys)):
        raise _unauthorized(401, "invalid API key")


def parse_json_body(model: type[M]) -> M:
    """Parse the raw body as JSON and validate it; any failure is a 422 naming the offending fields."""
    raw = request.get_data(cache=True)
    try:
        document: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        message = "JSON nested too deeply" if isinstance(exc, RecursionError) else "body is not valid JSON"
        detail = [{"field": "body", "message": str(exc)[:200]}]
        raise ApiError(422, "invalid_json", message, fields=detail) from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_error", "request body failed validation", fields=validation_fields(exc)
        ) from None
