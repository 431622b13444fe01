"""API keys and the audit log: keyword-only functions that know nothing of HTTP.

A key is `hlk_` + 43 random URL-safe characters (256 bits), shown once when created; only its SHA-256 is
stored (a fast hash suffices for random keys: there is nothing to guess from). Lookups go by hash.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.access.models import ALL_SCOPES, ApiKey, AuditEntry, Scope
from shared.db import session_scope
from shared.db.base import utcnow

log = logging.getLogger(__name__)
KEY_PREFIX = "hlk_"
SHOWN_PREFIX = 12  # characters of a key kept in clear to recognise it in listings


class UnknownScope(ValueError):
    pass


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted({s.strip().lower() for s in scopes if s.strip()})
    unknown = [s for s in chosen if s not in ALL_SCOPES]
    if unknown or not chosen:
        raise UnknownScope(
            f"scopes must be among {', '.join(ALL_SCOPES)} (got {', '.join(unknown) or 'none'})"
        )
    return chosen


def create_key(
    *, session_factory: sessionmaker[Session], name: str, scopes: Iterable[str]
) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned here and never again."""
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name[:100], prefix=token[:SHOWN_PREFIX], key_hash=hash_key(token), scopes=parse_scopes(scopes)
    )
    with session_scope(session_factory) as session:
        session.add(row)
    log.info("API key %s (%s) created with scopes %s", row.id, row.name, ",".join(row.scopes))
    return row, token


def revoke_key(*, session_factory: sessionmaker[Session], key_id: str) -> bool:
    """Revoke by id (or by the shown prefix); False when no live key matches."""
    with session_scope(session_factory) as session:
        match = (ApiKey.id == key_id) | (ApiKey.prefix == key_id)
        result = session.execute(
            update(ApiKey).where(match, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        revoked = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if revoked:
        log.info("API key %s revoked", key_id)
    return revoked > 0


def list_keys(*, session_factory: sessionmaker[Session], include_revoked: bool = False) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    with session_scope(session_factory) as session:
        return list(session.scalars(query))


def find_key(*, session_factory: sessionmaker[Session], token: str) -> ApiKey | None:
    """The live key this token is, or None (unknown or revoked)."""
    if not token.startswith(KEY_PREFIX):
        return None
    return find_key_by_hash(session_factory=session_factory, digest=hash_key(token))


def find_key_by_hash(*, session_factory: sessionmaker[Session], digest: str) -> ApiKey | None:
    """The live key whose SHA-256 is `digest` (a console session keeps the digest, never the key)."""
    with session_scope(session_factory) as session:
        query = select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
        return session.scalars(query).first()


def record_audit(
    *,
    session_factory: sessionmaker[Session],
    actor: str,
    action: str,
    target: str | None = None,
    status: int | None = None,
    remote_addr: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    entry = AuditEntry(
        at=utcnow(),
        actor=actor[:100],
        action=action[:64],
        target=target[:200] if target else None,
        status=status,
        remote_addr=remote_addr[:64] if remote_addr else None,
        details=details or {},
    )
    with session_scope(session_factory) as session:
        session.add(entry)


def list_audit(*, session_factory: sessionmaker[Session], limit: int = 100) -> list[AuditEntry]:
    with session_scope(session_factory) as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        return list(session.scalars(query))


__all__ = ["Scope", "create_key", "find_key", "list_audit", "list_keys", "record_audit", "revoke_key"]
