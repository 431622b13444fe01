"""Rate limits (flask-limiter, counted in Redis so every gateway process and host shares them): per API
key on the API, per helpdesk integration on webhooks. Over the limit: 429 JSON with `Retry-After`."""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, request
from flask_limiter import Limiter

from shared.redis_client import is_sentinel_url
from shared.settings import Settings

log = logging.getLogger(__name__)
EXEMPT = ("health.", "metrics", "openapi.", "static")  # probes and scrapes are never limited


def rate_limit_key() -> str:
    """Who is counted: the bearer key (hashed: the key itself never reaches Redis), else the integration a
    webhook is for, else the client address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + hashlib.sha256(token.strip().encode("utf-8", "replace")).hexdigest()[:24]
    if request.path.startswith("/v1/webhooks/"):
        return "integration:" + str((request.view_args or {}).get("name", "generic"))
    return "ip:" + (request.remote_addr or "unknown")


def _storage_uri(settings: Settings) -> str:
    if is_sentinel_url(settings.redis_url):
        log.warning("rate limits count per gateway process: Sentinel URLs are not passed to flask-limiter")
        return "memory://"
    return settings.redis_url


def init_rate_limits(app: Flask, settings: Settings) -> Limiter | None:
    """None when both limits are empty (turned off)."""
    if not (settings.rate_limit_api or settings.rate_limit_webhooks):
        return None

    def limit_for_request() -> str:
        webhook = request.path.startswith("/v1/webhooks/")
        return (settings.rate_limit_webhooks if webhook else settings.rate_limit_api) or "1000000/second"

    limiter = Limiter(
        key_func=rate_limit_key,
        app=app,
        default_limits=[limit_for_request],
        storage_uri=_storage_uri(settings),
        strategy="moving-window",
        headers_enabled=True,
        key_prefix="helploop-ratelimit",
        swallow_errors=True,  # Redis away: requests go on unlimited rather than failing
    )

    @limiter.request_filter
    def _exempt() -> bool:
        endpoint = request.endpoint or ""
        return endpoint.startswith(EXEMPT)

    return limiter
