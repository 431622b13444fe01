"""Rate limits per API key and per integration, counted in Redis: 429 JSON with Retry-After."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask

from helploop.cli.client import ticket_payload
from services.gateway.app import create_app
from shared.db import upgrade_database
from shared.signing import SIGNATURE_HEADER, sign
from tests.conftest import ADMIN_API_KEY, API_KEY, WEBHOOK_SECRET, settings_overrides


def _gateway(sqlite_url: str, redis_url: str, tmp_path: Path) -> Flask:
    upgrade_database(sqlite_url)
    overrides = settings_overrides(
        database_url=sqlite_url, redis_url=redis_url, model_registry_dir=tmp_path / "models",
        rate_limit_api="3/minute", rate_limit_webhooks="2/minute",
    )  # fmt: skip
    return create_app(overrides)


def test_each_key_has_its_own_budget_and_the_429_says_when_to_retry(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    client = _gateway(sqlite_url, redis_url, tmp_path).test_client()
    reader = {"Authorization": f"Bearer {API_KEY}"}
    assert [client.get("/v1/models", headers=reader).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/v1/models", headers=reader)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["error"] == "too_many_requests" and refused.get_json()["message"]
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {ADMIN_API_KEY}"}).status_code == 200
    assert all(
        client.get(path).status_code in (200, 503) for path in ("/healthz", "/readyz", "/openapi.json") * 3
    )


def test_webhooks_are_limited_per_integration(sqlite_url: str, redis_url: str, tmp_path: Path) -> None:
    client = _gateway(sqlite_url, redis_url, tmp_path).test_client()

    def post() -> int:
        raw = json.dumps(ticket_payload("where is my parcel?")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(WEBHOOK_SECRET, raw)}
        return client.post("/v1/webhooks/generic", data=raw, headers=headers).status_code

    assert [post() for _ in range(3)] == [202, 202, 429]
    assert client.post("/v1/webhooks/zendesk", data=b"{}").status_code != 429  # another integration
