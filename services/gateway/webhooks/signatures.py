"""How each helpdesk proves a webhook is its own (shared/notes/helpdesks.md, the providers' docs).

Every check compares in constant time over the raw body and accepts any of the integration's current
secrets (two during a rotation). A `SignatureError` says why, without echoing secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from shared.signing import SignatureError, any_matches, check_fresh


def verify_zendesk(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, tolerance_s: int, now: float | None
) -> None:
    """`X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, timestamp + body)), with the timestamp
    (ISO 8601) in `X-Zendesk-Webhook-Signature-Timestamp`."""
    signature = headers.get("X-Zendesk-Webhook-Signature")
    stamp = headers.get("X-Zendesk-Webhook-Signature-Timestamp")
    if not signature or not stamp:
        raise SignatureError("missing X-Zendesk-Webhook-Signature or its timestamp header")
    try:
        sent_at = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00")).timestamp()
        given = base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError("malformed Zendesk signature or timestamp") from None
    check_fresh(sent_at, tolerance_s, now)
    message = stamp.encode("utf-8") + body
    expected = [hmac.new(s.encode(), message, hashlib.sha256).digest() for s in secrets]
    if not any_matches(expected, [given]):
        raise SignatureError("signature does not match")


def _hub_signature(headers: Mapping[str, str], body: bytes, secrets: Sequence[str], algorithm: str) -> None:
    header = headers.get("X-Hub-Signature", "")
    scheme, sep, hexdigest = header.strip().partition("=")
    if not sep or scheme != algorithm or not hexdigest:
        raise SignatureError(f"missing or malformed X-Hub-Signature (expected {algorithm}=<hex>)")
    digest = getattr(hashlib, algorithm)
    expected = [hmac.new(s.encode(), body, digest).hexdigest().encode() for s in secrets]
    if not any_matches(expected, [hexdigest.lower().encode("utf-8", "replace")]):
        raise SignatureError("signature does not match")


def verify_zammad(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    """`X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, body)>`."""
    _hub_signature(headers, body, secrets, "sha1")


def verify_jira(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    """`X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`; the signed payload's `timestamp` is
    checked for freshness once the body is parsed (`check_fresh`)."""
    _hub_signature(headers, body, secrets, "sha256")


def verify_token(given: str | None, expected: str) -> None:
    """Freshdesk has no signature scheme: a per-integration secret token in the URL path or as the HTTP
    basic-auth password, compared in constant time."""
    if not given:
        raise SignatureError("missing integration token (URL path or basic-auth password)")
    if not expected.strip():  # an empty token would let anyone in
        raise SignatureError("this integration has no usable token configured")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise SignatureError("integration token does not match")
