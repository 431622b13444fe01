"""Scoped API keys (stored hashed, created and revoked with `helploop keys`) and the admin audit log."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from helploop.cli.client import ticket_payload
from services.gateway.app import create_app
from shared.access.models import ApiKey, AuditEntry
from shared.access.service import UnknownScope, create_key, list_keys, revoke_key
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from tests.conftest import ADMIN_API_KEY, API_KEY, settings_overrides

HELPLOOP = str(Path(sys.executable).with_name("helploop"))


@pytest.fixture
def factory(sqlite_url: str):  # type: ignore[no-untyped-def]
    upgrade_database(sqlite_url)
    return build_session_factory(build_engine(sqlite_url))


@pytest.fixture
def client(sqlite_url: str, redis_url: str, tmp_path: Path, factory) -> FlaskClient:  # type: ignore[no-untyped-def]
    overrides = settings_overrides(
        database_url=sqlite_url,
        redis_url=redis_url,
        model_registry_dir=tmp_path / "models",
        api_key_cache_s=0,
    )
    return create_app(overrides).test_client()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_each_scope_opens_its_endpoints_and_no_others(client: FlaskClient, factory) -> None:  # type: ignore[no-untyped-def]
    _, ingest = create_key(session_factory=factory, name="zendesk", scopes=["ingest"])
    _, read = create_key(session_factory=factory, name="dashboard", scopes=["read"])
    _, admin = create_key(session_factory=factory, name="ops", scopes=["admin"])
    posted = client.post("/v1/tickets", json=ticket_payload("where is my parcel?"), headers=bearer(ingest))
    assert posted.status_code == 202, posted.get_json()
    ticket = f"/v1/tickets/{posted.get_json()['id']}"
    assert client.get(ticket, headers=bearer(ingest)).status_code == 403
    assert client.get(ticket, headers=bearer(read)).status_code == 200
    assert client.get(ticket, headers=bearer(admin)).status_code == 200  # admin passes every scope
    refused = client.post("/v1/tickets", json=ticket_payload("again"), headers=bearer(read))
    assert refused.status_code == 403 and "'ingest' scope" in refused.get_json()["message"]
    for key in (ingest, read):
        assert client.post("/v1/models/rollback", headers=bearer(key)).status_code == 403
        assert client.delete("/v1/kb/articles/returns", headers=bearer(key)).status_code == 403
        assert client.post("/v1/deliveries/1/retry", headers=bearer(key)).status_code == 403
    assert (
        client.post("/v1/models/rollback", headers=bearer(admin)).status_code == 409
    )  # allowed; nothing to do
    assert client.get(ticket, headers=bearer("hlk_" + "x" * 43)).status_code == 401


def test_keys_are_stored_hashed_and_revocation_takes_effect(client: FlaskClient, factory) -> None:  # type: ignore[no-untyped-def]
    row, token = create_key(session_factory=factory, name="zendesk", scopes=["ingest", "read"])
    with session_scope(factory) as session:
        stored = session.scalars(select(ApiKey)).one()
    assert stored.key_hash == hashlib.sha256(token.encode()).hexdigest() and token not in repr(vars(stored))
    assert token.startswith(stored.prefix) and len(token) > 40
    assert client.get("/v1/training/runs", headers=bearer(token)).status_code == 200
    assert revoke_key(session_factory=factory, key_id=row.id)
    assert not revoke_key(session_factory=factory, key_id=row.id)
    assert client.get("/v1/training/runs", headers=bearer(token)).status_code == 401
    assert (
        list_keys(session_factory=factory) == []
        and len(list_keys(session_factory=factory, include_revoked=True)) == 1
    )
    with pytest.raises(UnknownScope):
        create_key(session_factory=factory, name="typo", scopes=["raed"])


def test_admin_requests_allowed_or_refused_are_audited(client: FlaskClient, factory) -> None:  # type: ignore[no-untyped-def]
    row, admin = create_key(session_factory=factory, name="ops", scopes=["admin"])
    client.post("/v1/models/rollback", headers=bearer(admin))
    client.post("/v1/reclassify", json={"since": "2026-01-01T00:00:00Z"}, headers=bearer(API_KEY))
    client.delete("/v1/kb/articles/returns", headers=bearer("wrong"))
    client.get("/v1/tickets/abc", headers=bearer(API_KEY))  # a read: not audited
    log = client.get("/v1/audit?limit=10", headers=bearer(ADMIN_API_KEY)).get_json()["entries"]
    assert [(e["action"], e["status"]) for e in log] == [
        ("kb.remove_article", 401),
        ("learning.reclassify", 403),
        ("models.rollback", 409),
    ]
    assert log[2]["actor"] == f"key:{row.id} ops" and log[1]["actor"] == "env:api#1"
    assert log[0]["actor"] == "anonymous" and log[0]["target"] == "returns"
    assert log[1]["details"]["body"] == {"since": "2026-01-01T00:00:00Z"}
    oversized = client.post("/v1/kb/articles", data=b"x" * 300_000, headers=bearer(admin))
    nested = client.post("/v1/kb/articles", data=b"[" * 1500, headers=bearer(admin))
    assert (oversized.status_code, nested.status_code) == (413, 422)
    latest = client.get("/v1/audit?limit=2", headers=bearer(ADMIN_API_KEY)).get_json()["entries"]
    assert [e["details"]["body"] for e in latest] == [{"bytes": 1500}, {"bytes": 300_000}]
    with session_scope(factory) as session:  # reading the audit log is itself an admin action
        assert (
            session.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc())).first()
            == "access.get_audit_log"
        )


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPLOOP_DATABASE_URL": database_url, "HELPLOOP_ENV": "test"}
    return subprocess.run([HELPLOOP, "keys", *args], env=env, capture_output=True, text=True, timeout=60)


def test_keys_cli_creates_lists_and_revokes(sqlite_url: str, client: FlaskClient) -> None:
    created = _cli(sqlite_url, "create", "--name", "freshdesk-prod", "--scopes", "ingest")
    assert created.returncode == 0, created.stderr
    document = json.loads(created.stdout[: created.stdout.rindex("}") + 1])
    assert document["scopes"] == ["ingest"] and document["key"].startswith("hlk_")
    assert document["key"] not in created.stderr  # never logged
    posted = client.post("/v1/tickets", json=ticket_payload("refund please"), headers=bearer(document["key"]))
    assert posted.status_code == 202
    listing = _cli(sqlite_url, "list")
    assert "freshdesk-prod" in listing.stdout and document["key"] not in listing.stdout
    assert _cli(sqlite_url, "revoke", document["id"]).returncode == 0
    assert _cli(sqlite_url, "revoke", document["id"]).returncode == 1
    again = client.post("/v1/tickets", json=ticket_payload("refund?"), headers=bearer(document["key"]))
    assert again.status_code == 401
    assert "freshdesk-prod" not in _cli(sqlite_url, "list").stdout
    audit = client.get("/v1/audit", headers=bearer(ADMIN_API_KEY)).get_json()["entries"]
    assert {"keys.create", "keys.revoke"} <= {e["action"] for e in audit}
    assert all(e["actor"].startswith("cli:") for e in audit if e["action"].startswith("keys."))


def test_environment_keys_can_be_switched_off(
    sqlite_url: str, redis_url: str, tmp_path: Path, factory
) -> None:  # type: ignore[no-untyped-def]
    overrides = settings_overrides(
        database_url=sqlite_url,
        redis_url=redis_url,
        model_registry_dir=tmp_path,
        api_keys="",
        admin_api_keys="",
    )
    client = create_app(overrides).test_client()
    _, admin = create_key(session_factory=factory, name="ops", scopes=["admin"])
    assert client.get("/v1/training/runs", headers=bearer(API_KEY)).status_code == 401
    assert client.get("/v1/training/runs", headers=bearer(ADMIN_API_KEY)).status_code == 401
    assert client.get("/v1/training/runs", headers=bearer(admin)).status_code == 200
