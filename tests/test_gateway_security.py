"""The security review's findings (issue 18), each as a test that fails if the hole reopens: late Jira
retries, rate limits an attacker can neither dodge nor spend, weak integration secrets, reserved names,
and 5xx / readiness bodies without paths or exception text."""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from helploop.cli.client import ticket_payload
from services.gateway.app import create_app
from shared.access.models import AuditEntry
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.config import IntegrationError
from shared.signing import SIGNATURE_HEADER, sign
from shared.tickets.models import Ticket
from tests.conftest import ADMIN_API_KEY, API_KEY, WEBHOOK_SECRET, settings_overrides
from tests.helpdesk_requests import API_TOKEN, CREATED, SECRETS, fixture, integrations_yaml, signed

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EVENT_ID_FIELD = {
    "zendesk": ("ticket", "id"),
    "zammad": ("article", "id"),
    "jira": ("issue", "id"),
    "freshdesk": ("freshdesk_webhook", "ticket_id"),
}
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
HELPDESK = {"REMOTE_ADDR": "198.51.100.20"}
# what a body shown to anyone must not hold: a filesystem path, an exception's class or a traceback
PATH_LIKE = re.compile(r"(?:/[\w.@-]+){2,}")
EXCEPTION_LIKE = re.compile(r"\b\w*(?:Error|Exception)\b|Traceback|errno|\(Background on this error")


def _gateway(database_url: str, redis_url: str, tmp_path: Path, **extra: Any) -> Flask:
    upgrade_database(database_url)
    integrations = integrations_yaml(tmp_path / "integrations.yml", "http://127.0.0.1:9")
    overrides = settings_overrides(
        database_url=database_url,
        redis_url=redis_url,
        model_registry_dir=tmp_path / "models",
        integrations_file=integrations,
    )
    return create_app({**overrides, **extra})


@pytest.fixture(autouse=True)
def _helpdesk_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_API_TOKEN", API_TOKEN)


def _jira(client: FlaskClient, name: str, *, age_s: float, retry: int = 0) -> Any:
    document = fixture(name)
    document["timestamp"] = int((time.time() - age_s) * 1000)
    body = json.dumps(document).encode()
    path, headers = signed("jira", body)
    headers["X-Atlassian-Webhook-Retry"] = str(retry)
    return client.post(path, data=body, headers=headers, content_type="application/json")


def test_a_jira_retry_twenty_minutes_late_is_taken_and_its_replay_is_not_processed_twice(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    client = _gateway(database_url, redis_url, tmp_path).test_client()
    first = _jira(client, "jira_issue_created", age_s=20 * 60, retry=3)
    assert first.status_code == 202, first.get_json()
    replay = _jira(client, "jira_issue_created", age_s=20 * 60, retry=4)
    assert replay.status_code == 200 and replay.get_json()["id"] == first.get_json()["id"]
    assert replay.get_json()["duplicate"] is True
    resolved = _jira(client, "jira_issue_resolved", age_s=25 * 60)
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "recorded"
    too_late = _jira(client, "jira_issue_created", age_s=2 * 3600)
    assert too_late.status_code == 401 and "3600 s" in too_late.get_json()["message"]
    with session_scope(build_session_factory(build_engine(database_url))) as session:
        assert session.query(Ticket).count() == 1


def _count_key_lookups(app: Flask) -> list[str]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "api_keys" in statement:
            statements.append(statement)

    event.listen(app.extensions["helploop"].engine, "before_cursor_execute", record)
    return statements


def test_random_bearer_tokens_from_one_address_are_limited_before_any_database_lookup(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    app = _gateway(
        sqlite_url, redis_url, tmp_path, rate_limit_api="600/minute", rate_limit_auth_failures="30/minute"
    )
    lookups = _count_key_lookups(app)
    client = app.test_client()
    rng = random.Random(18)
    codes: Counter[int] = Counter()
    for _ in range(1000):  # a fresh token (and a spoofed X-Forwarded-For: no trusted proxy) each time
        headers = {
            "Authorization": f"Bearer hlk_{secrets.token_urlsafe(24)}",
            "X-Forwarded-For": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        }
        response = client.get("/v1/models", headers=headers)
        codes[response.status_code] += 1
    assert codes == {401: 30, 429: 970}
    assert len(lookups) == 30  # the 970 refused were never looked up
    refused = client.get("/v1/models", headers={"Authorization": "Bearer hlk_whatever"})
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get("/v1/tickets/none").status_code == 429  # no key at all: the same address budget
    # a genuine key at the same address is not locked out by the attacker's failures
    assert client.get("/v1/models", headers=AUTH).status_code == 200
    other = client.get("/v1/models", headers={"Authorization": "Bearer hlk_x"}, environ_base=HELPDESK)
    assert other.status_code == 401  # another address has its own budget


def test_trusted_proxy_hops_give_each_client_its_own_address_for_limits_and_the_audit_log(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    app = _gateway(sqlite_url, redis_url, tmp_path, rate_limit_auth_failures="3/minute", trusted_proxy_hops=1)
    client = app.test_client()

    def bad_key(client_address: str) -> int:
        headers = {"Authorization": "Bearer hlk_guess", "X-Forwarded-For": client_address}
        return client.get("/v1/models", headers=headers).status_code

    assert [bad_key("192.0.2.1") for _ in range(4)] == [401, 401, 401, 429]
    assert bad_key("192.0.2.2") == 401  # another client behind the same proxy
    admin = {"Authorization": f"Bearer {ADMIN_API_KEY}", "X-Forwarded-For": "192.0.2.77"}
    assert client.get("/v1/audit", headers=admin).status_code == 200
    with session_scope(build_session_factory(build_engine(sqlite_url))) as session:
        addresses = set(session.scalars(select(AuditEntry.remote_addr)))
    assert addresses == {"192.0.2.77"}


def _post(client: FlaskClient, name: str, body: bytes, headers: dict[str, str], **kwargs: Any) -> Any:
    path, signature = headers.pop("path"), headers
    return client.post(path, data=body, headers=signature, content_type="application/json", **kwargs)


def _request(name: str, i: int, *, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A new-ticket delivery of integration `name` (a distinct event per `i`), signed with `secret`."""
    if name == "generic":
        body = json.dumps(ticket_payload(f"parcel {i}?", event_id=f"evt-{i}")).encode()
        return body, {
            "path": "/v1/webhooks/generic",
            SIGNATURE_HEADER: sign(WEBHOOK_SECRET if secret is None else secret, body),
        }
    document = fixture(CREATED[name])
    *parents, key = EVENT_ID_FIELD[name]
    holder = document
    for part in parents:
        holder = holder[part]
    holder[key] = type(holder[key])(int(holder[key]) + i)  # a distinct signed ticket/article/issue id
    body = json.dumps(document).encode()
    path, headers = signed(name, body, secret=secret)
    return body, {"path": path, **headers}


@pytest.mark.parametrize("name", ["generic", "zendesk", "zammad", "jira", "freshdesk"])
def test_forged_webhooks_never_spend_the_genuine_integrations_quota(
    sqlite_url: str, redis_url: str, tmp_path: Path, name: str
) -> None:
    app = _gateway(
        sqlite_url, redis_url, tmp_path, rate_limit_webhooks="5/minute", rate_limit_auth_failures="10/minute"
    )
    client = app.test_client()
    forged_codes = []
    for i in range(20):  # each with a random Authorization header: no bucket of its own
        body, headers = _request(name, 100 + i, secret=secrets.token_hex(16))
        headers["Authorization"] = f"Bearer {secrets.token_hex(12)}"
        forged_codes.append(_post(client, name, body, headers, environ_base=ATTACKER).status_code)
    assert forged_codes == [401] * 10 + [429] * 10
    genuine = [_post(client, name, *_request(name, i), environ_base=HELPDESK).status_code for i in range(6)]
    assert genuine == [202] * 5 + [429]  # the integration's own quota, spent by genuine deliveries only
    if name == "freshdesk":  # token guessing stops: even the right token is refused at that address
        body, headers = _request(name, 50)
        assert _post(client, name, body, headers, environ_base=ATTACKER).status_code == 429


def _integrations_file(tmp_path: Path, name: str, provider: str, secret: str) -> Path:
    entry: dict[str, Any] = {"provider": provider, "writeback": False}
    entry["webhook_token" if provider == "freshdesk" else "webhook_secrets"] = secret
    path = tmp_path / "weak.yml"
    path.write_text(yaml.safe_dump({"integrations": {name: entry}}))
    return path


@pytest.mark.parametrize("provider", ["zendesk", "zammad", "jira_sm", "freshdesk"])
@pytest.mark.parametrize("secret", ["${EMPTY_SECRET}", "x", "change-me-please-now"])
def test_prod_refuses_to_start_with_an_empty_short_or_placeholder_integration_secret(
    sqlite_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    secret: str,
) -> None:
    monkeypatch.setenv("EMPTY_SECRET", "")
    path = _integrations_file(tmp_path, "desk", provider, secret)
    overrides = settings_overrides(database_url=sqlite_url, redis_url=redis_url, integrations_file=path)
    weak = r"integrations\.desk\.webhook_\w+(\[0\])? is (empty|shorter than 16 bytes|a placeholder)"
    with pytest.raises(IntegrationError, match=f"{weak}|needs webhook_token"):
        create_app({**overrides, "env": "prod"})
    if provider == "freshdesk" and secret == "${EMPTY_SECRET}":
        with pytest.raises(IntegrationError, match="needs webhook_token"):  # no token at all: never loads
            create_app({**overrides, "env": "dev"})
    else:
        create_app({**overrides, "env": "dev"})  # dev starts, with a warning


def test_in_dev_an_empty_secret_still_authenticates_nobody(
    sqlite_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("EMPTY_SECRET", "")
    upgrade_database(sqlite_url)
    for provider, name in (("zendesk", "zendesk"), ("zammad", "zammad"), ("jira_sm", "jira")):
        path = _integrations_file(tmp_path, name, provider, "${EMPTY_SECRET}")
        overrides = settings_overrides(database_url=sqlite_url, redis_url=redis_url, integrations_file=path)
        with caplog.at_level(logging.WARNING):
            client = create_app({**overrides, "env": "dev"}).test_client()
        assert f"integrations.{name}.webhook_" in caplog.text and "is empty" in caplog.text
        body, headers = _request(name, 1, secret="")  # signed with the empty key
        assert _post(client, name, body, headers).status_code == 401
        with session_scope(build_session_factory(build_engine(sqlite_url))) as session:
            assert session.query(Ticket).count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("integrations:\n  api: {provider: zendesk, webhook_secrets: [%s], writeback: false}\n", "reserved"),
        (
            "integrations:\n  generic: {provider: zammad, webhook_secrets: [%s], writeback: false}\n",
            "reserved",
        ),
        (
            "integrations:\n  desk: {provider: zammad, webhook_secrets: [%s], writeback: false}\n"
            "  desk: {provider: jira_sm, webhook_secrets: [%s], writeback: false}\n",
            "'desk' appears twice",
        ),
    ],
)
def test_reserved_and_duplicate_integration_names_are_refused_in_every_environment(
    sqlite_url: str, redis_url: str, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "names.yml"
    path.write_text(text.replace("%s", SECRETS["zammad"]))
    overrides = settings_overrides(database_url=sqlite_url, redis_url=redis_url, integrations_file=path)
    for env in ("dev", "prod"):
        with pytest.raises(IntegrationError, match=message):
            create_app({**overrides, "env": env})


def _assert_shows_nothing_internal(body: str, tmp_path: Path) -> None:
    assert str(tmp_path) not in body and "127.0.0.1" not in body, body
    assert not PATH_LIKE.search(body), body
    assert not EXCEPTION_LIKE.search(body), body


def test_readiness_and_5xx_bodies_carry_no_path_or_exception_text_and_name_a_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = settings_overrides(
        database_url="postgresql+psycopg://helploop@127.0.0.1:1/helploop",  # nothing listens there
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there
        model_registry_dir=tmp_path / "registry-without-models",
        kb_search_timeout_s=1.0,
    )
    client = create_app(broken).test_client()
    with caplog.at_level(logging.INFO):
        ready = client.get("/readyz", headers={"X-Request-Id": "probe-0001-abcd"})
    assert ready.status_code == 503 and ready.headers["X-Request-Id"] == "probe-0001-abcd"
    checks = ready.get_json()["checks"]
    assert not any(check["ok"] for check in checks.values())
    assert checks["model"]["detail"].startswith("no active model")
    _assert_shows_nothing_internal(ready.get_data(as_text=True), tmp_path)
    assert "probe-0001-abcd" in caplog.text and "OperationalError" in caplog.text  # the details: logged
    asked = time.monotonic()
    responses = {"queue down": client.get("/v1/kb/search?q=refund", headers=AUTH)}
    assert time.monotonic() - asked < 8, "the search's 1 s timeout bounds its reconnect retries (were ~18 s)"
    responses["database down"] = client.get("/v1/tickets/abc", headers=AUTH)
    for what, response in responses.items():
        assert response.status_code in (500, 503), what
        body = response.get_json()
        assert body["request_id"] == response.headers["X-Request-Id"], what
        _assert_shows_nothing_internal(response.get_data(as_text=True), tmp_path)
        assert body["request_id"] in caplog.text, what
    assert str(tmp_path) in caplog.text and "127.0.0.1:1" in caplog.text  # the operator's details: logged


def test_every_response_names_its_request_id(sqlite_url: str, redis_url: str, tmp_path: Path) -> None:
    client = _gateway(sqlite_url, redis_url, tmp_path).test_client()
    given = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a9c21"})
    assert given.headers["X-Request-Id"] == "lb-7f3a9c21"
    made = client.get("/v1/tickets/nope", headers={"X-Request-Id": "bad id!"} | AUTH)
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    assert made.status_code == 404 and made.get_json()["request_id"] == made.headers["X-Request-Id"]


def test_with_redis_away_the_limits_step_aside_and_tickets_are_still_accepted(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = _gateway(
        sqlite_url,
        "redis://127.0.0.1:1/0",  # nothing listens there: the limiter cannot count
        tmp_path,
        rate_limit_api="1/minute",
        rate_limit_webhooks="1/minute",
        rate_limit_auth_failures="1/minute",
    )
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        accepted = [_post(client, "generic", *_request("generic", i)).status_code for i in range(3)]
        keys = [client.get("/v1/models", headers=AUTH).status_code for _ in range(3)]
        bad = [
            client.get("/v1/models", headers={"Authorization": "Bearer hlk_x"}).status_code for _ in range(3)
        ]
    assert accepted == [202] * 3 and keys == [200] * 3 and bad == [401] * 3
    assert "rate limits not counted" in caplog.text
