"""The gateway over its real DB and real Redis queue: signatures, idempotency, limits, JSON errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from helploop.cli.client import ticket_payload
from services.gateway.app import create_app
from shared.celery_app import QUEUE_TRIAGE, TASK_CLASSIFY
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.signing import SIGNATURE_HEADER, sign
from shared.tickets.models import Ticket
from tests.conftest import API_KEY, OLD_WEBHOOK_SECRET, WEBHOOK_SECRET, settings_overrides

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def app_and_queue(sqlite_url: str, redis_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade_database(sqlite_url)
    app = create_app(
        settings_overrides(
            database_url=sqlite_url, redis_url=redis_url, model_registry_dir=tmp_path / "models"
        )
    )
    yield app, redis.Redis.from_url(redis_url)


@pytest.fixture
def client(app_and_queue) -> FlaskClient:  # type: ignore[no-untyped-def]
    return app_and_queue[0].test_client()


@pytest.fixture
def queue(app_and_queue) -> redis.Redis:  # type: ignore[no-untyped-def]
    return app_and_queue[1]


def post_webhook(
    client: FlaskClient,
    payload: Any,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    raw: bytes | None = None,
    header: str | None = None,
):  # type: ignore[no-untyped-def]
    body = raw if raw is not None else json.dumps(payload).encode()
    signature = header if header is not None else sign(secret, body, timestamp=timestamp)
    return client.post(
        "/v1/webhooks/generic",
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature},
    )


def queued_ids(queue: redis.Redis) -> list[str]:
    messages = [json.loads(m) for m in queue.lrange(QUEUE_TRIAGE, 0, -1)]
    assert all(m["headers"]["task"] == TASK_CLASSIFY for m in messages)
    return [m["headers"]["argsrepr"].strip("[]()',") for m in messages]


def test_signed_webhook_is_accepted_stored_and_enqueued_by_id(
    client: FlaskClient, queue: redis.Redis
) -> None:
    response = post_webhook(client, ticket_payload("my parcel never arrived"))
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued" and body["status_url"].endswith(f"/v1/tickets/{body['id']}")
    assert queued_ids(queue) == [body["id"]]
    view = client.get(f"/v1/tickets/{body['id']}", headers=AUTH).get_json()
    assert view["status"] == "queued" and view["classification"] is None
    assert view["timings"]["received"] <= view["timings"]["queued"]


def test_an_email_thread_is_stored_whole_and_its_removed_parts_are_shown(
    client: FlaskClient, sqlite_url: str
) -> None:
    body = (
        "Hi,\nmy parcel never arrived.\n\nThanks,\nSam Lee\n+44 20 7946 0958\n\nOn Mon, 3 Nov 2026, Sam Lee "
        "<sam@example.com> wrote:\n> Where is my refund for order NW-11111?"
    )
    accepted = post_webhook(client, ticket_payload(body, event_id="evt-thread")).get_json()
    view = client.get(f"/v1/tickets/{accepted['id']}", headers=AUTH).get_json()
    kinds = [part["kind"] for part in view["removed"]]
    assert "signature" in kinds and "quoted" in kinds, view["removed"]
    shown = " ".join(part["text"] for part in view["removed"])
    assert "NW-11111" in shown and "7946 0958" not in shown and "sam@example.com" not in shown  # redacted
    with session_scope(build_session_factory(build_engine(sqlite_url))) as session:  # stored untouched
        assert session.get(Ticket, accepted["id"]).body == body


def test_previous_secret_is_accepted_during_rotation(client: FlaskClient) -> None:
    assert post_webhook(client, ticket_payload("hi"), secret=OLD_WEBHOOK_SECRET).status_code == 202


@pytest.mark.parametrize("case", ["missing", "forged", "stale", "future", "garbage"])
def test_bad_signatures_are_refused_and_nothing_is_stored(
    client: FlaskClient, queue: redis.Redis, case: str
) -> None:
    payload = ticket_payload("refund please", event_id=f"evt-{case}")
    kwargs: dict[str, Any] = {
        "missing": {"header": ""},
        "forged": {"secret": "not-the-secret-at-all-0000000000"},
        "stale": {"timestamp": int(time.time()) - 301},
        "future": {"timestamp": int(time.time()) + 301},
        "garbage": {"header": "t=now,v1=zz"},
    }[case]
    response = post_webhook(client, payload, **kwargs)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_signature"
    assert queue.llen(QUEUE_TRIAGE) == 0
    signed = post_webhook(client, payload)
    assert signed.status_code == 202, "a refused attempt must not block the genuine delivery"


def test_replayed_event_returns_the_same_ticket_and_no_second_task(
    client: FlaskClient, queue: redis.Redis
) -> None:
    payload = ticket_payload("cancel my order", event_id="evt-replay")
    first = post_webhook(client, payload)
    second = post_webhook(client, payload)
    third = post_webhook(client, payload)
    assert first.status_code == 202 and second.status_code == 200 and third.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"] == third.get_json()["id"]
    assert second.get_json()["duplicate"] is True
    assert queue.llen(QUEUE_TRIAGE) == 1


def test_a_body_past_the_intake_limit_is_refused_with_413(client: FlaskClient, queue: redis.Redis) -> None:
    """Intake reads the body limit plus the attachments' cap as base64 (inline files); past it, 413 before
    parsing. A body text past 200,000 characters is a 422 naming the field."""
    settings = client.application.extensions["helploop"].settings
    limit = settings.max_body_bytes + (settings.media_max_ticket_bytes * 4) // 3 + 64 * 1024
    response = post_webhook(client, None, raw=b"{" + b" " * limit + b"}")
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"] == "request_entity_too_large"
    big = b" " * (settings.max_body_bytes + 1)
    response = client.post(
        "/v1/tickets/x/resolution", data=big, headers=AUTH, content_type="application/json"
    )
    assert response.status_code == 413  # other endpoints keep the plain body limit
    response = post_webhook(client, ticket_payload("x" * (300 * 1024)))
    assert response.status_code == 422 and response.get_json()["fields"][0]["field"] == "ticket.body"
    assert queue.llen(QUEUE_TRIAGE) == 0


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b'{"event_id": "e", "ticket": '],
)
def test_malformed_json_is_422(client: FlaskClient, raw: bytes) -> None:
    response = post_webhook(client, None, raw=raw)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_json" and body["fields"][0]["field"] == "body"


def test_schema_violations_name_every_offending_field(client: FlaskClient, queue: redis.Redis) -> None:
    payload = ticket_payload("hello")
    payload["ticket"]["body"] = ""
    payload["ticket"]["created_at"] = "yesterday"
    payload["ticket"]["customer"]["email"] = "not-an-email"
    del payload["ticket"]["external_id"]
    response = post_webhook(client, payload)
    assert response.status_code == 422
    fields = {f["field"] for f in response.get_json()["fields"]}
    assert fields == {"ticket.body", "ticket.created_at", "ticket.customer.email", "ticket.external_id"}
    assert queue.llen(QUEUE_TRIAGE) == 0


@pytest.mark.parametrize("bad", [[], "text", 42, None, {"event_id": ["x"], "ticket": {}}])
def test_wrong_json_types_are_422(client: FlaskClient, bad: Any) -> None:
    assert post_webhook(client, bad).status_code == 422


@pytest.mark.parametrize("text", ["nul \x00 byte", "lone \ud800 surrogate"])
def test_unstorable_text_is_422_not_500(client: FlaskClient, text: str) -> None:
    payload = ticket_payload(text)
    raw = json.dumps(payload, ensure_ascii=True).encode()
    assert post_webhook(client, None, raw=raw).status_code == 422


def test_naive_created_at_is_refused(client: FlaskClient) -> None:
    payload = ticket_payload("hello")
    payload["ticket"]["created_at"] = "2026-11-28T10:00:00"
    response = post_webhook(client, payload)
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "ticket.created_at"


def test_api_intake_needs_a_key_and_honours_idempotency_key(client: FlaskClient, queue: redis.Redis) -> None:
    payload = {"ticket": ticket_payload("invoice please")["ticket"]}
    assert client.post("/v1/tickets", json=payload).status_code == 401
    assert (
        client.post("/v1/tickets", json=payload, headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    headers = {**AUTH, "Idempotency-Key": "idem-1"}
    first = client.post("/v1/tickets", json=payload, headers=headers)
    second = client.post("/v1/tickets", json=payload, headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert queue.llen(QUEUE_TRIAGE) == 1


def test_ticket_attributes_are_stored_and_shown_and_bad_ones_are_a_clear_422(client: FlaskClient) -> None:
    ticket = ticket_payload("where is my parcel?")["ticket"]
    attributes = {"plan": "enterprise", "order_ids": ["NW-1", "NW-2"], "vip": True, "seats": 40}
    accepted = client.post("/v1/tickets", json={"ticket": {**ticket, "attributes": attributes}}, headers=AUTH)
    assert accepted.status_code == 202, accepted.get_json()
    view = client.get(f"/v1/tickets/{accepted.get_json()['id']}", headers=AUTH).get_json()
    assert view["attributes"] == attributes
    for bad, field in (
        ({"Plan": "x"}, "ticket.attributes"),
        ({"plan": {"nested": 1}}, "ticket.attributes.plan"),
        ({f"k{i}": i for i in range(21)}, "ticket.attributes"),
    ):
        response = client.post("/v1/tickets", json={"ticket": {**ticket, "attributes": bad}}, headers=AUTH)
        assert response.status_code == 422, bad
        assert response.get_json()["fields"][0]["field"].startswith(field), response.get_json()


def test_reads_need_a_key_and_unknown_ids_are_json_404(client: FlaskClient) -> None:
    assert client.get("/v1/tickets/abc").status_code == 401
    response = client.get("/v1/tickets/abc", headers=AUTH)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_every_error_is_json(client: FlaskClient) -> None:
    for response in (client.get("/nope"), client.put("/v1/webhooks/generic"), client.delete("/v1/tickets")):
        assert response.is_json and response.get_json()["error"]
        assert 400 <= response.status_code < 500


def test_redis_down_still_accepts_and_the_relay_enqueues_in_order_when_it_returns(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    upgrade_database(sqlite_url)
    down = create_app(
        settings_overrides(
            database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0", model_registry_dir=tmp_path
        )
    ).test_client()
    started = time.monotonic()
    accepted = [post_webhook(down, ticket_payload("help", event_id=f"evt-outage-{i}")) for i in range(6)]
    assert [r.status_code for r in accepted] == [202] * 6, accepted[0].get_json()
    assert {r.get_json()["status"] for r in accepted} == {"received"}
    assert time.monotonic() - started < 10  # one failed connection attempt, then straight to the outbox
    replay = post_webhook(down, ticket_payload("help", event_id="evt-outage-0"))
    assert replay.status_code == 200 and replay.get_json()["id"] == accepted[0].get_json()["id"]
    app = create_app(
        settings_overrides(
            database_url=sqlite_url,
            redis_url=redis_url,
            model_registry_dir=tmp_path,
            outbox_relay_enabled=True,
            outbox_relay_interval_s=0.05,
        )
    )
    app.test_client().get("/healthz")  # the first request starts this process's relay
    ids = [r.get_json()["id"] for r in accepted]
    broker = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 10
    while len(queued_ids(broker)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    app.extensions["helploop"].relay.stop()
    # every one, once, in the order accepted (kombu pushes on the left; workers pop from the right)
    assert queued_ids(broker)[::-1] == ids
    view = app.test_client().get(f"/v1/tickets/{ids[0]}", headers=AUTH).get_json()
    assert view["status"] == "queued"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    checks = ready.get_json()["checks"]
    assert ready.status_code == 503  # no model in this registry
    assert checks["database"]["ok"] and checks["redis"]["ok"] and not checks["model"]["ok"]


def test_gateway_imports_neither_torch_nor_onnxruntime(sqlite_url: str) -> None:
    code = (
        "import sys, psutil; from services.gateway.app import create_app; "
        f"create_app({{'env': 'dev', 'database_url': {sqlite_url!r}}}); "
        "heavy = [m for m in ('torch', 'onnxruntime', 'transformers') if m in sys.modules]; "
        "print(heavy, psutil.Process().memory_info().rss // 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "[]", out
    assert int(out[1]) / 1024 < 150, f"gateway RSS {int(out[1]) / 1024:.0f} MB"
