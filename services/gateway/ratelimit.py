"""Rate limits, counted in Redis (every gateway process and host shares them) with the `limits` library.

Three kinds of bucket, each a moving window:
- `api`: one per *authenticated* API key (`HELPLOOP_RATE_LIMIT_API`), spent once the key is known valid;
- `webhook`: one per helpdesk integration (`HELPLOOP_RATE_LIMIT_WEBHOOKS`), spent once the signature or
  token holds, so forged requests never spend a genuine integration's quota;
- `auth_failures`: one per client address (`HELPLOOP_RATE_LIMIT_AUTH_FAILURES`) for missing or invalid API
  keys and failed webhook signatures, tokens and stale deliveries. An address over it is refused *before*
  any key lookup or signature check: random tokens cost neither a database lookup nor another guess.
The client address is the TCP peer's, or what `HELPLOOP_TRUSTED_PROXY_HOPS` trusted proxies forwarded.
Over a limit: 429 JSON with `Retry-After`. Redis away: requests go on unlimited (logged), never fail.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from services.gateway.errors import ApiError
from shared.settings import Settings
from shared.signing import SignatureError

log = logging.getLogger(__name__)
EXTENSION_KEY = "helploop_rate_limits"
KEY_PREFIX = "helploop-ratelimit"
STORAGE_BACKOFF_S = 2.0  # after a Redis error, requests go unlimited this long without trying Redis


@dataclass
class RateLimits:
    """The gateway's limiter; no limiter (or no limits for a bucket) means unlimited."""

    limiter: MovingWindowRateLimiter | None
    limits: dict[str, list[RateLimitItem]]
    _down_until: float = field(default=0.0, init=False)

    def spend(self, bucket: str, identity: str, *, what: str) -> None:
        """Count one request against `bucket`/`identity`; 429 when that was over the limit."""
        self._raise_if_over(bucket, identity, what=what, hit=True)

    def refuse_if_exhausted(self, bucket: str, identity: str, *, what: str) -> None:
        """429 when `bucket`/`identity` has no room left, without counting this request."""
        self._raise_if_over(bucket, identity, what=what, hit=False)

    def count(self, bucket: str, identity: str) -> None:
        """Count one request against `bucket`/`identity`, whatever the outcome."""
        self._over(bucket, identity, hit=True)

    def _raise_if_over(self, bucket: str, identity: str, *, what: str, hit: bool) -> None:
        over = self._over(bucket, identity, hit=hit)
        if over is not None:
            item, retry_after = over
            raise ApiError(
                429,
                "too_many_requests",
                f"rate limit exceeded ({item}) for {what}; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )

    def _over(self, bucket: str, identity: str, *, hit: bool) -> tuple[RateLimitItem, int] | None:
        """The first limit this request is over and the seconds until it has room, or None."""
        items = self.limits.get(bucket) or []
        if self.limiter is None or not items or time.monotonic() < self._down_until:
            return None
        try:
            over = [item for item in items if not self._allowed(item, bucket, identity, hit)]
            if not over:
                return None
            return over[0], max(self._seconds_to_room(item, bucket, identity) for item in over)
        except (redis.RedisError, OSError) as exc:
            self._down_until = time.monotonic() + STORAGE_BACKOFF_S
            log.warning("rate limits not counted for %.0f s: Redis unavailable (%s)", STORAGE_BACKOFF_S, exc)
            return None

    def _allowed(self, item: RateLimitItem, bucket: str, identity: str, hit: bool) -> bool:
        assert self.limiter is not None
        return (self.limiter.hit if hit else self.limiter.test)(item, bucket, identity)

    def _seconds_to_room(self, item: RateLimitItem, bucket: str, identity: str) -> int:
        assert self.limiter is not None
        reset_at = self.limiter.get_window_stats(item, bucket, identity).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def build_rate_limits(settings: Settings, client: redis.Redis) -> RateLimits:
    """Counted in the Redis `client` talks to (a sentinel-managed client follows failovers)."""
    configured = {
        "api": settings.rate_limit_api,
        "webhook": settings.rate_limit_webhooks,
        "auth_failures": settings.rate_limit_auth_failures,
    }
    limits = {bucket: parse_many(value) for bucket, value in configured.items() if value}
    if not limits:
        return RateLimits(None, {})
    storage = RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=KEY_PREFIX)
    return RateLimits(MovingWindowRateLimiter(storage), limits)


def init_rate_limits(app: Flask, settings: Settings, client: redis.Redis) -> RateLimits:
    app.extensions[EXTENSION_KEY] = build_rate_limits(settings, client)
    return app.extensions[EXTENSION_KEY]


def rate_limits() -> RateLimits:
    return current_app.extensions[EXTENSION_KEY]


def client_address() -> str:
    """The client's address: the TCP peer's, or the one trusted proxies forwarded (ProxyFix in the app)."""
    return request.remote_addr or "unknown"


def refuse_failing_client() -> None:
    """An address over its authentication-failure budget is refused before any lookup or check."""
    rate_limits().refuse_if_exhausted("auth_failures", client_address(), what="failed authentication")


def count_auth_failure() -> None:
    """Count a missing or invalid key, or a failed signature, against the client's address."""
    rate_limits().count("auth_failures", client_address())  # this request is refused anyway (401)


def guard_webhook(integration: str, verify: Callable[[], None]) -> None:
    """Refuse an address over its failed-authentication budget (before checking anything), run `verify`
    (a `SignatureError` is a 401 counted against the address, never the integration), then spend the
    integration's quota: forged requests cannot use up a genuine helpdesk's."""
    refuse_failing_client()
    try:
        verify()
    except SignatureError as exc:
        count_auth_failure()
        raise ApiError(401, "invalid_signature", str(exc)) from None
    rate_limits().spend("webhook", integration, what=f"integration {integration!r}")
