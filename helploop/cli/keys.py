"""`helploop keys create|revoke|list`: scoped API keys, stored hashed; each change goes to the audit log."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any


def _factory() -> Any:
    from shared.db import build_engine, build_session_factory, upgrade_database
    from shared.settings import get_settings

    url = get_settings().database_url
    upgrade_database(url)
    return build_session_factory(build_engine(url))


def _audit(factory: Any, action: str, target: str, details: dict[str, Any]) -> None:
    from shared.access.service import record_audit

    record_audit(
        session_factory=factory,
        actor=f"cli:{getpass.getuser()}",
        action=action,
        target=target,
        details=details,
    )


def cmd_keys_create(args: argparse.Namespace) -> int:
    from shared.access.service import create_key

    factory = _factory()
    row, token = create_key(session_factory=factory, name=args.name, scopes=args.scopes.split(","))
    _audit(factory, "keys.create", row.id, {"name": row.name, "scopes": row.scopes})
    print(json.dumps({"id": row.id, "name": row.name, "scopes": row.scopes, "key": token}, indent=2))
    print("the key is shown this once; only its hash is stored", flush=True)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from shared.access.service import revoke_key

    factory = _factory()
    if not revoke_key(session_factory=factory, key_id=args.key_id):
        print(f"no live key with id or prefix {args.key_id!r}")
        return 1
    _audit(factory, "keys.revoke", args.key_id, {})
    print(f"revoked {args.key_id} (gateways stop accepting it within HELPLOOP_API_KEY_CACHE_S)")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from shared.access.service import list_keys

    rows = list_keys(session_factory=_factory(), include_revoked=args.all)
    print(f"{'id':32}  {'prefix':12}  {'scopes':20}  {'created':20}  {'revoked':20}  name")
    for row in rows:
        revoked = row.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if row.revoked_at else "-"
        created = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"{row.id:32}  {row.prefix:12}  {','.join(row.scopes):20}  {created:20}  {revoked:20}  {row.name}"
        )
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("keys", help="API keys with scopes (ingest, read, admin), stored hashed")
    sub = p.add_subparsers(dest="keys_command", required=True)
    q = sub.add_parser("create", help="create a key and print it once")
    q.add_argument("--name", required=True, help="who or what uses it (e.g. 'zendesk-prod')")
    q.add_argument("--scopes", default="ingest,read", help="comma-separated: ingest, read, review, admin")
    q.set_defaults(handler=cmd_keys_create)
    q = sub.add_parser("revoke", help="revoke a key by id or shown prefix")
    q.add_argument("key_id")
    q.set_defaults(handler=cmd_keys_revoke)
    q = sub.add_parser("list", help="list keys (never the keys themselves)")
    q.add_argument("--all", action="store_true", help="include revoked keys")
    q.set_defaults(handler=cmd_keys_list)
