"""The console's sign-in: an API key, once, for a signed session cookie (HttpOnly, SameSite=Strict, Secure
outside dev and test) that holds the key's SHA-256, never the key; every request resolves it again (a
revoked key signs its sessions out within `HELPLOOP_API_KEY_CACHE_S`), an idle session expires after
`HELPLOOP_CONSOLE_IDLE_TIMEOUT_S`, and every form carries the session's CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from flask import Flask, current_app, g, request, session

from services.gateway.auth import CACHE_EXTENSION, Principal, env_principal, stored_principal
from services.gateway.ratelimit import count_auth_failure, rate_limits, refuse_failing_client
from services.gateway.resources import Resources, resources
from shared.access.models import Scope
from shared.access.service import hash_key
from shared.settings import Environment, Settings

CSRF_FIELD = "csrf_token"
SESSION_KEYS = ("key", "seen", "csrf")


class ConsoleError(Exception):
    """A console request refused: rendered as a page with the status, never as a stack trace."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def session_secret(settings: Settings) -> str:
    """`HELPLOOP_CONSOLE_SECRET`, or one derived from the configured admin keys and webhook secrets (new
    keys there sign every session out, as rotating a key should)."""
    if settings.console_secret:
        return settings.console_secret
    material = "\x1f".join([*settings.admin_api_keys, *settings.webhook_secrets])
    return hmac.new(material.encode("utf-8"), b"helploop console session", hashlib.sha256).hexdigest()


def init_sessions(app: Flask, settings: Settings) -> None:
    app.secret_key = session_secret(settings)
    app.config.update(
        SESSION_COOKIE_NAME="helploop_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.env not in (Environment.DEV, Environment.TEST),
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.console_idle_timeout_s),
    )


def _principal_for_digest(res: Resources, digest: str) -> Principal | None:
    """The key whose SHA-256 is `digest`: an environment key, or a live database key (cached like bearer
    keys, so a revoked key stops working within `HELPLOOP_API_KEY_CACHE_S`)."""
    found = env_principal(res, lambda key: hmac.compare_digest(hash_key(key), digest))
    if found is not None:
        return found
    cache = current_app.extensions[CACHE_EXTENSION]
    cached, principal = cache.get(digest)
    return principal if cached else stored_principal(res, cache, digest)


def sign_in(token: str) -> Principal:
    """Check a key typed on the sign-in page (the failed-authentication limit applies, as to bearer keys);
    a key without the `read` scope cannot open the console."""
    refuse_failing_client()
    digest = hash_key(token.strip())
    principal = _principal_for_digest(resources(), digest) if token.strip() else None
    if principal is None:
        count_auth_failure()
        raise ConsoleError(401, "invalid API key")
    if not principal.allows(Scope.READ):
        raise ConsoleError(403, "this key has no 'read' scope: the console needs a key that may read")
    session.clear()
    session.permanent = True
    session.update(key=digest, seen=time.time(), csrf=secrets.token_urlsafe(32))
    return principal


def sign_out() -> None:
    session.clear()


def current_principal() -> Principal | None:
    """The signed-in key, or None (no session, idle too long, or the key no longer valid)."""
    if "helploop_principal" in g:
        return g.helploop_principal
    digest, seen = session.get("key"), session.get("seen")
    idle_limit = resources().settings.console_idle_timeout_s
    principal = None
    if isinstance(digest, str) and isinstance(seen, float | int) and time.time() - seen <= idle_limit:
        principal = _principal_for_digest(resources(), digest)
    if principal is None:
        session.clear()
        return None
    session["seen"] = time.time()
    g.helploop_principal = principal
    rate_limits().spend("api", principal.bucket, what="this API key")  # pages count like API requests
    return principal


def require(scope: str = Scope.READ) -> Principal:
    """The signed-in key must carry `scope`: 401 (sign in) or 403; admin actions go to the audit log, as
    the API's do. A state-changing request must carry the session's CSRF token."""
    if scope == Scope.ADMIN:
        g.helploop_audit = True
    principal = current_principal()
    if principal is None:
        raise ConsoleError(401, "sign in first")
    if request.method == "POST":
        check_csrf()
    if not principal.allows(scope):
        raise ConsoleError(403, f"this needs a key with the {scope!r} scope")
    return principal


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ConsoleError(400, "the form's CSRF token is missing or stale: reload the page and try again")
