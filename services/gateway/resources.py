"""What the gateway holds per process, built in `init_app` from settings (never at import time)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from celery import Celery
from flask import Flask, current_app, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.errors import ApiError, validation_fields
from shared.celery_app import create_celery, enqueue
from shared.db import build_engine, build_session_factory
from shared.integrations.config import Integration, load_integrations
from shared.outbox.models import OutboxMessage
from shared.outbox.relay import OutboxRelay
from shared.outbox.sent_log import SentLog
from shared.outbox.service import publish_claimed
from shared.redis_client import redis_from_settings
from shared.registry import Registry
from shared.settings import Environment, Settings

EXTENSION_KEY = "helploop"
FAIL_FAST = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
BROKER_BACKOFF_S = 2.0  # after a failed publish, requests leave their messages to the relay this long


class BrokerUnavailable(ConnectionError):
    """The broker refused a publish moments ago; not tried again yet."""


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
    relay: OutboxRelay = field(init=False)
    _broker_down_until: float = field(default=0.0, init=False)

    def publish(self, task: str, args: list[Any]) -> None:
        """Publish by task name (`enqueue`: the queue from the routes table); only ids travel. Fails fast
        when Redis is away (and, for a moment after, without trying); fire and forget."""
        if time.monotonic() < self._broker_down_until:
            raise BrokerUnavailable("the broker was unreachable moments ago")
        try:
            enqueue(self.celery, task, *args, retry=True, retry_policy=FAIL_FAST)
        except Exception:
            self._broker_down_until = time.monotonic() + BROKER_BACKOFF_S
            raise

    @property
    def sent_log(self) -> SentLog | None:
        """Where requests leave published messages for the relay to mark sent; None (each request marks
        its own) when this process runs no relay."""
        return self.relay.sent if self.settings.outbox_relay_enabled else None

    def dispatch(self, message: OutboxMessage | None) -> None:
        """Publish a message staged (and claimed) in a committed transaction, or leave it to the relay."""
        if message is None:
            return
        published = publish_claimed(
            session_factory=self.session_factory,
            publish=self.publish,
            message=message,
            sent=self.sent_log,
        )
        if not published:
            self.relay.wake()


def _start_relay(resources: Resources) -> None:
    """Each serving process runs its own relay thread, started on its first request (after the fork)."""
    resources.relay.start()


def shutdown(app: Flask | None) -> None:
    """The serving process is stopping: its relay thread ends and marks what the process published."""
    res = (getattr(app, "extensions", None) or {}).get(EXTENSION_KEY)
    if res is not None:
        res.relay.stop()


def init_resources(app: Flask, settings: Settings) -> Resources:
    engine = build_engine(settings.database_url)
    session_factory = build_session_factory(engine)
    resources = Resources(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        celery=create_celery(settings, name="helploop-gateway"),
        redis=redis_from_settings(
            settings,
            socket_connect_timeout=settings.broker_connect_timeout_s,
            socket_timeout=settings.broker_connect_timeout_s,
        ),
        registry=Registry(settings.model_registry_dir),
        integrations=load_integrations(settings.integrations_file, strict=settings.env is Environment.PROD),
    )
    resources.relay = OutboxRelay(
        session_factory=session_factory,
        publish=resources.publish,
        interval_s=settings.outbox_relay_interval_s,
        retention_s=settings.outbox_retention_s,
    )
    app.extensions[EXTENSION_KEY] = resources
    if settings.outbox_relay_enabled:
        app.before_request(lambda: _start_relay(resources))
    return resources


def resources() -> Resources:
    return current_app.extensions[EXTENSION_KEY]


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


def query_limit(default: int = 100, maximum: int = 1000) -> int:
    """The `limit` query parameter: an integer in 1..maximum, else a 422 saying so."""
    try:
        limit = int(request.args.get("limit", str(default)))
    except ValueError:
        raise ApiError(422, "invalid_parameter", "limit must be an integer") from None
    if not 1 <= limit <= maximum:
        raise ApiError(422, "invalid_parameter", f"limit must be between 1 and {maximum}")
    return limit
