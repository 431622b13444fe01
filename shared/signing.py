"""The generic webhook signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`; and what
every webhook check shares: the freshness window and a constant-time match against any current secret."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Helploop-Signature"


class SignatureError(Exception):
    """The request is not signed by a holder of a current secret; the message says why."""


def check_fresh(sent_at: float, tolerance_s: float, now: float | None = None) -> None:
    """Raise SignatureError when `sent_at` (unix seconds) is more than `tolerance_s` from now."""
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        raise SignatureError("timestamp outside the tolerance window (stale or replayed request)")


def any_matches(expected: Sequence[bytes], given: Sequence[bytes]) -> bool:
    """Whether any given signature equals any expected one, comparing every pair so that timing does not
    reveal which secret matched."""
    matched = False
    for want in expected:
        for candidate in given:
            matched |= hmac.compare_digest(want, candidate)
    return matched


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value a sender puts in `X-Helploop-Signature`."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """Split `t=...,v1=...[,v1=...]` into the timestamp and candidate signatures."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header")
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless one of `secrets` signed `body` within `tolerance_s` of now."""
    if not header:
        raise SignatureError("missing signature header")
    timestamp, candidates = parse_header(header)
    check_fresh(timestamp, tolerance_s, now)
    expected = [compute_signature(secret, timestamp, body).encode("ascii") for secret in secrets]
    if not any_matches(expected, [candidate.encode("utf-8", "replace") for candidate in candidates]):
        raise SignatureError("signature does not match")
