"""The OpenAPI document covers every route; schemathesis drives every operation with generated and mutated
requests (valid keys attached, so they reach the views): no 5xx, and every error is JSON with a message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from services.gateway.app import create_app
from services.gateway.openapi import OPERATIONS, documented
from shared.db import upgrade_database
from tests.conftest import ADMIN_API_KEY, settings_overrides

FUZZ_EXAMPLES = 12  # per operation and mode (about 600 requests); `make fuzz` sends 10,000+


@pytest.fixture
def gateway(sqlite_url: str, redis_url: str, tmp_path: Path) -> Flask:
    upgrade_database(sqlite_url)
    return create_app(
        settings_overrides(
            database_url=sqlite_url,
            redis_url=redis_url,
            model_registry_dir=tmp_path / "models",
            kb_search_timeout_s=0.5,  # no worker answers a search here: its documented 503, sooner
        )
    )


@pytest.fixture
def api_schema(gateway: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", gateway)


def test_every_route_is_documented(gateway: Flask) -> None:
    endpoints = {rule.endpoint for rule in gateway.url_map.iter_rules() if documented(rule.endpoint)}
    assert endpoints == set(OPERATIONS)
    spec = gateway.test_client().get("/openapi.json").get_json()
    operations = [op["operationId"] for methods in spec["paths"].values() for op in methods.values()]
    assert spec["openapi"].startswith("3.1") and len(operations) == len(set(operations)) == 33


def _check(case: Any, response: Any) -> None:
    """No 5xx but the documented 503s (not ready, queue unavailable); every 4xx a JSON object naming the
    error and saying why."""
    documented = case.operation.definition.raw["responses"]
    failure = (case.method, case.formatted_path, case.body, response.status_code, response.text[:500])
    assert response.status_code < 500 or (response.status_code == 503 and "503" in documented), failure
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and body.get("error") and body.get("message"), body


def fuzz(api_schema: Any, *, examples: int) -> int:
    """Every operation, with valid (schema-conforming) and invalid (mutated) requests; the request count."""
    sent = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
            )
            def run(case: Any) -> None:
                nonlocal sent
                sent += 1
                _check(case, case.call(headers={"Authorization": f"Bearer {ADMIN_API_KEY}"}))

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
                assert mode is GenerationMode.NEGATIVE
    return sent


def test_no_request_gets_a_server_error(api_schema: Any) -> None:
    examples = int(os.environ.get("HELPLOOP_FUZZ_EXAMPLES", FUZZ_EXAMPLES))
    sent = fuzz(api_schema, examples=examples)
    print(f"\nfuzzed {sent} requests over {examples} examples per operation and mode: no 5xx")
    assert sent >= 30 * examples  # hypothesis may stop early on small input spaces, not this early


NASTY_BODIES = {
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "nested objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "huge string": b'{"ticket": {"body": "' + b"x" * 300_000 + b'"}}',
    "invalid utf-8": b'{"event_id": "\xff\xfe\xfa", "ticket": {}}',
    "nul bytes": b'{"event_id": "a\\u0000b", "ticket": {"body": "\x00\x00"}}',
    "lone surrogate": b'{"event_id": "\\ud800", "ticket": {"body": "\\udfff"}}',
    "bidi and zero-width": '{"event_id": "\u202e\u200b\ufeff", "ticket": {"body": "x"}}'.encode(),
    "not json": b"\x89PNG\r\n\x1a\n",
    "empty": b"",
    "huge number": b'{"since": 1e999999, "k": 99999999999999999999999999999}',
}


@pytest.mark.parametrize("body", list(NASTY_BODIES.values()), ids=list(NASTY_BODIES))
def test_nasty_bodies_get_a_json_4xx_everywhere(gateway: Flask, body: bytes) -> None:
    client = gateway.test_client()
    spec = client.get("/openapi.json").get_json()
    headers = {"Authorization": f"Bearer {ADMIN_API_KEY}", "Content-Type": "application/json"}
    for path, methods in spec["paths"].items():
        for method in set(methods) & {"post", "put"}:
            url = path.replace("{delivery_id}", "1").replace("{", "x").replace("}", "")
            response = client.open(url, method=method.upper(), data=body, headers=headers)
            assert response.status_code < 500 or response.status_code == 503, (path, response.status_code)
            if response.status_code >= 400:
                error = response.get_json()
                assert error["error"] and error["message"], (path, error)
