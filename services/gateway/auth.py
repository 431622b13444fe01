"""Bearer authentication with scoped keys, and the audit log of admin requests.

Keys come from the database (`helploop keys create`, stored hashed) or, for bootstrapping, from the
environment: `HELPLOOP_API_KEYS` (scopes ingest and read) and `HELPLOOP_ADMIN_API_KEYS` (every scope).
A key with `admin` passes every check. Lookups are cached per process for `HELPLOOP_API_KEY_CACHE_S`."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, g, request

from services.gateway.errors import ApiError
from services.gateway.ratelimit import count_auth_failure, rate_limits, refuse_failing_client
from services.gateway.resources import Resources, resources
from shared.access.models import ALL_SCOPES, Scope
from shared.access.service import KEY_PREFIX, find_key_by_hash, hash_key, record_audit

log = logging.getLogger(__name__)
CACHE_EXTENSION = "helploop_api_keys"
CACHE_LIMIT = 10_000
AUDITED_BODY_BYTES = 2048


@dataclass(frozen=True)
class Principal:
    actor: str  # what the audit log names: "key:<id> <name>" or "env:admin#1"
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def bucket(self) -> str:
        """The key's rate-limit bucket: its id, never the token."""
        return self.actor.split(" ", 1)[0]


@dataclass
class KeyCache:
    ttl_s: float
    entries: dict[str, tuple[Principal | None, float]] = field(default_factory=dict)

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        hit = self.entries.get(digest)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def put(self, digest: str, principal: Principal | None) -> None:
        if len(self.entries) >= CACHE_LIMIT:
            self.entries.clear()
        self.entries[digest] = (principal, time.monotonic() + self.ttl_s)


def env_principal(res: Resources, matches: Callable[[str], bool]) -> Principal | None:
    """The environment key for which `matches(key)` holds (every key is tried, each in constant time)."""
    found = None
    for index, key in enumerate(res.settings.admin_api_keys):
        if matches(key):
            found = found or Principal(f"env:admin#{index + 1}", frozenset(ALL_SCOPES))
    for index, key in enumerate(res.settings.api_keys):
        if matches(key):
            found = found or Principal(f"env:api#{index + 1}", frozenset({Scope.INGEST, Scope.READ}))
    return found


def stored_principal(res: Resources, cache: KeyCache, digest: str) -> Principal | None:
    """The live database key whose SHA-256 is `digest`, looked up and cached (a miss is cached too)."""
    row = find_key_by_hash(session_factory=res.session_factory, digest=digest)
    principal = None if row is None else Principal(f"key:{row.id} {row.name}", frozenset(row.scopes))
    cache.put(digest, principal)
    return principal


def authenticate(
    res: Resources, cache: KeyCache, token: str, *, gate: Callable[[], None] = lambda: None
) -> Principal | None:
    """Environment keys and recently seen valid keys answer at once; any other token first passes `gate`
    (which raises to refuse: the failed-authentication limit), then the cache or the database decides."""
    raw = token.encode("utf-8", "replace")
    principal = env_principal(res, lambda key: hmac.compare_digest(key.encode("utf-8"), raw))
    if principal is not None:
        return principal
    digest = hash_key(token)
    cached, principal = cache.get(digest)
    if cached and principal is not None:
        return principal
    gate()
    if cached:
        return None
    if not token.startswith(KEY_PREFIX):  # not a stored key's shape: no database lookup
        cache.put(digest, None)
        return None
    return stored_principal(res, cache, digest)


def _unauthorized(status: int, message: str) -> ApiError:
    code = "unauthorized" if status == 401 else "forbidden"
    return ApiError(status, code, message, headers={"WWW-Authenticate": 'Bearer realm="helploop"'})


def require_api_key(scope: str = Scope.READ) -> Principal:
    """The caller's key must carry `scope` (or `admin`): 401 without a valid key, 403 without the scope,
    429 when the key is over its rate limit or the address over its failed-authentication limit (checked
    before the key is looked up). Admin requests, allowed or not, go to the audit log."""
    if scope == Scope.ADMIN:
        g.helploop_audit = True
    principal: Principal | None = g.get("helploop_principal")
    if principal is None:
        principal = g.helploop_principal = _authenticated_caller()
        rate_limits().spend("api", principal.bucket, what="this API key")
    if not principal.allows(scope):
        raise _unauthorized(403, f"this endpoint needs an API key with the {scope!r} scope")
    return principal


def _authenticated_caller() -> Principal:
    """An environment key, or a key seen valid in the last `HELPLOOP_API_KEY_CACHE_S`, is never held up by
    others' failures at its address; any other token is looked up only while the address is within its
    failed-authentication budget."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        refuse_failing_client()
        count_auth_failure()
        raise _unauthorized(401, "missing bearer API key")
    cache = current_app.extensions[CACHE_EXTENSION]
    principal = authenticate(resources(), cache, token.strip(), gate=refuse_failing_client)
    if principal is None:
        count_auth_failure()
        raise _unauthorized(401, "invalid API key")
    return principal


def _audited_body() -> object:
    """The request body when it is small JSON, else its size (never read past the size limit here)."""
    size = request.content_length or 0
    if size == 0 or size > AUDITED_BODY_BYTES:
        return {"bytes": size} if size else None
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):  # not JSON, or nested too deeply
        return {"bytes": size}


def _audit(response: Response) -> Response:
    if not g.get("helploop_audit"):
        return response
    principal: Principal | None = g.get("helploop_principal")
    try:
        record_audit(
            session_factory=resources().session_factory,
            actor=principal.actor if principal else "anonymous",
            action=request.endpoint or "unknown",
            target="/".join(str(v) for v in (request.view_args or {}).values()) or None,
            status=response.status_code,
            remote_addr=request.remote_addr,
            details={"method": request.method, "path": request.path, "body": _audited_body()},
        )
    except Exception:  # the audit log must not turn an answered request into a 500
        log.exception("could not write the audit entry for %s", request.endpoint)
    return response


def init_auth(app: Flask, res: Resources) -> None:
    app.extensions[CACHE_EXTENSION] = KeyCache(res.settings.api_key_cache_s)
    app.after_request(_audit)
