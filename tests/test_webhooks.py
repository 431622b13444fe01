"""Helpdesk webhooks through the gateway: each provider's fixture, forged and stale requests, replays,
resolution feedback (provider events and the API)."""

from __future__ import annotations

import functools
import json
import os
import random
import string
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from helploop.cli.client import ticket_payload
from services.gateway.app import create_app
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.models import Resolution
from shared.signing import SIGNATURE_HEADER, sign
from shared.tickets.models import Ticket
from tests.conftest import API_KEY, WEBHOOK_SECRET, settings_overrides
from tests.helpdesk_requests import API_TOKEN, CREATED, fixture, integrations_yaml, signed

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EXPECTED = {  # name → (external id, subject, a phrase of the body, customer email, customer name)
    "zendesk": ("35436", "Where is my parcel?", "order NW-48213", "dana.fischer@example.org", "Dana Fischer"),
    "zammad": (
        "1042",
        "Refund for returned shoes",
        "still have not received my refund",
        "sam.ortiz@example.net",
        "Sam Ortiz",
    ),
    "jira": (
        "SUP-88",
        "Payment failed at checkout",
        "keeps failing at checkout",
        "lee.park@example.com",
        "Lee Park",
    ),
    "freshdesk": (
        "5123",
        "Discount code not working",
        "WELCOME10 from your newsletter",
        "ana.lima@example.com",
        "Ana Lima",
    ),
}


@pytest.fixture
def setup(sqlite_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HELPDESK_API_TOKEN", API_TOKEN)
    upgrade_database(sqlite_url)
    integrations = integrations_yaml(tmp_path / "integrations.yml", "http://127.0.0.1:9")
    app = create_app(
        settings_overrides(
            database_url=sqlite_url,
            redis_url=redis_url,
            model_registry_dir=tmp_path / "models",
            integrations_file=integrations,
        )
    )
    return app.test_client(), build_session_factory(build_engine(sqlite_url))


def post(client: FlaskClient, name: str, document: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    body = json.dumps(document).encode()
    path, headers = signed(name, body, **kwargs)
    return client.post(path, data=body, headers=headers, content_type="application/json")


@pytest.mark.parametrize("name", sorted(CREATED))
def test_each_provider_payload_becomes_our_ticket_once(setup, name: str) -> None:  # type: ignore[no-untyped-def]
    client, factory = setup
    document = fixture(CREATED[name])
    first = post(client, name, document)
    assert first.status_code == 202, first.get_json()
    replay = post(client, name, document)
    assert replay.status_code == 200 and replay.get_json()["id"] == first.get_json()["id"]
    external_id, subject, phrase, email, customer = EXPECTED[name]
    with session_scope(factory) as session:
        ticket = session.get(Ticket, first.get_json()["id"])
        assert (ticket.source, ticket.external_id, ticket.subject) == (name, external_id, subject)
        assert phrase in ticket.body and "<div>" not in ticket.body
        assert (ticket.customer_email, ticket.customer_name) == (email, customer)


@pytest.mark.parametrize("name", sorted(CREATED))
def test_forged_signatures_are_rejected(setup, name: str) -> None:  # type: ignore[no-untyped-def]
    client, factory = setup
    response = post(client, name, fixture(CREATED[name]), secret="not-the-secret-at-all-000000")
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_signature"
    if name != "freshdesk":  # Freshdesk signs nothing: only its token proves the sender
        body = json.dumps(fixture(CREATED[name])).encode()
        path, headers = signed(name, body)
        tampered = body.replace(b"a", b"e", 1)
        assert client.post(path, data=tampered, headers=headers).status_code == 401
    with session_scope(factory) as session:
        assert session.query(Ticket).count() == 0


def test_stale_zendesk_and_jira_requests_are_rejected(setup) -> None:  # type: ignore[no-untyped-def]
    client, _ = setup
    stale = post(client, "zendesk", fixture(CREATED["zendesk"]), age_s=3600)
    assert stale.status_code == 401 and "tolerance" in stale.get_json()["message"]
    document = fixture(CREATED["jira"])
    document["timestamp"] -= 3600 * 1000
    assert post(client, "jira", document).status_code == 401


def test_freshdesk_accepts_basic_auth_and_refuses_a_missing_token(setup) -> None:  # type: ignore[no-untyped-def]
    import base64

    client, _ = setup
    body = json.dumps(fixture(CREATED["freshdesk"])).encode()
    assert client.post("/v1/webhooks/freshdesk", data=body).status_code == 401
    token = signed("freshdesk", body)[0].rsplit("/", 1)[1]
    basic = base64.b64encode(f"freshdesk:{token}".encode()).decode()
    response = client.post("/v1/webhooks/freshdesk", data=body, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 202


def test_unknown_integration_and_bad_payloads_are_clear_4xx(setup) -> None:  # type: ignore[no-untyped-def]
    client, _ = setup
    unknown = client.post("/v1/webhooks/desk-that-does-not-exist", data=b"{}")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_integration"
    missing = post(client, "zendesk", {"event": "ticket.created", "ticket": {"id": "1"}})
    assert missing.status_code == 422 and missing.get_json()["fields"][0]["field"] == "description"
    not_json = signed("zammad", b"not json")
    assert client.post(not_json[0], data=b"not json", headers=not_json[1]).status_code == 422


@pytest.mark.parametrize(
    ("name", "solved", "intent"),
    [
        ("zendesk", "zendesk_ticket_solved", "where_is_my_order"),
        ("zammad", "zammad_ticket_closed", None),  # Zammad sends no tags: tests/test_zammad_feedback.py
        ("jira", "jira_issue_resolved", "payment_failed"),
        ("freshdesk", "freshdesk_ticket_resolved", "discount_code"),
    ],
)
def test_solved_events_store_redacted_labelled_feedback(  # type: ignore[no-untyped-def]
    setup, name: str, solved: str, intent: str | None
) -> None:
    client, factory = setup
    ticket_id = post(client, name, fixture(CREATED[name])).get_json()["id"]
    response = post(client, name, fixture(solved))
    assert response.status_code == 200 and response.get_json()["status"] == "recorded", response.get_json()
    with session_scope(factory) as session:
        row = session.query(Resolution).filter_by(ticket_id=ticket_id).one()
        assert row.final_labels == ({"label": intent} if intent else {}) and row.source == name
        assert "@example" not in row.text + (row.reply or "") and "7946" not in (row.reply or "")


def test_resolution_api_links_the_prediction_and_updates_on_resolve_again(setup) -> None:  # type: ignore[no-untyped-def]
    client, _ = setup
    ticket_id = post(client, "zendesk", fixture(CREATED["zendesk"])).get_json()["id"]
    url = f"/v1/tickets/{ticket_id}/resolution"
    body = {"intent": "where_is_my_order", "labels": {"priority": "high"}, "reply": "Mail me at x@y.example"}
    first = client.post(url, json=body, headers=AUTH)
    assert first.status_code == 200, first.get_json()
    view = first.get_json()
    assert view["final_labels"] == {"priority": "high", "label": "where_is_my_order"}
    assert view["correct"] is None and "[email]" in view["reply"]  # not classified yet: nothing to compare
    again = client.post(url, json={"intent": "complaint"}, headers=AUTH).get_json()
    assert again["final_labels"] == {"label": "complaint"}
    assert client.post("/v1/tickets/nope/resolution", json=body, headers=AUTH).status_code == 404
    assert client.post(url, json={"labels": {"Bad Key": "x"}}, headers=AUTH).status_code == 422
    assert client.post(url, json=body).status_code == 401


@pytest.mark.parametrize("name", sorted(CREATED))
def test_odd_shapes_are_422_never_500(setup, name: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = setup
    odd_documents: list[Any] = [
        [],
        "text",
        {"ticket": "x", "issue": 5, "freshdesk_webhook": []},
        {
            "ticket": {"id": "1", "description": 5, "requester": "me", "customer": 3, "tags": 7},
            "article": {"id": "9" * 300, "body": "hi", "sender": "Customer"},
            "webhookEvent": "jira:issue_created",
            "issue": {"id": "1", "key": "K-1", "fields": {"description": {"content": 5}}},
            "freshdesk_webhook": {"ticket_id": 1, "ticket_description": ["x"]},
        },
    ]
    for document in odd_documents:
        response = post(client, name, document)
        assert response.status_code in (200, 202, 422), (document, response.get_json())
        assert response.is_json


ATTACK_ROUNDS = int(os.environ.get("HELPLOOP_FUZZ_EXAMPLES", "12"))  # per channel and kind; `make fuzz`: 200


def _generic(body: bytes, *, secret: str = WEBHOOK_SECRET, age_s: float = 0) -> tuple[str, dict[str, str]]:
    header = sign(secret, body, timestamp=int(time.time() - age_s))
    return "/v1/webhooks/generic", {SIGNATURE_HEADER: header}


def _attack_requests(
    name: str, rng: random.Random, i: int
) -> dict[str, list[tuple[str, bytes, dict[str, str]]]]:
    """Forged (another secret), tampered (one byte changed after signing) and stale (signed an hour ago;
    Jira's body two hours old) requests for one channel; Freshdesk signs nothing and Zammad stamps no time,
    so they have fewer. A replay inside the time window is not refused but deduplicated (the next test
    counts those)."""
    if name == "generic":
        document = ticket_payload(f"attack {i}", event_id=f"attack-{i}")
        sign_as = _generic
    else:
        document = fixture(CREATED[name])
        sign_as = functools.partial(signed, name)
    body = json.dumps(document).encode()
    forged_secret = "".join(rng.choices(string.ascii_letters + string.digits, k=32))
    path, headers = sign_as(body, secret=forged_secret)
    attacks: dict[str, list[tuple[str, bytes, dict[str, str]]]] = {"forged": [(path, body, headers)]}
    if name != "freshdesk":
        path, headers = sign_as(body)
        position = rng.randrange(len(body))
        tampered = body[:position] + bytes([body[position] ^ rng.randrange(1, 256)]) + body[position + 1 :]
        attacks["tampered"] = [(path, tampered, headers)]
    if name in ("generic", "zendesk"):
        path, headers = sign_as(body, age_s=3600)
        attacks["stale"] = [(path, body, headers)]
    if name == "jira":  # Jira's time is in the signed body; its retries come up to an hour late
        old = json.dumps({**document, "timestamp": document["timestamp"] - 2 * 3600 * 1000}).encode()
        attacks["stale"] = [(*sign_as(old)[:1], old, sign_as(old)[1])]
    return attacks


def test_forged_tampered_stale_and_replayed_requests_are_refused_every_time(setup) -> None:  # type: ignore[no-untyped-def]
    """Counted over every intake channel; printed for the closing note (`make fuzz` runs 200 rounds)."""
    client, factory = setup
    rng = random.Random(9)
    tried: dict[str, int] = {}
    refused: dict[str, int] = {}
    for name in ("generic", *sorted(CREATED)):
        for i in range(ATTACK_ROUNDS):
            for kind, requests_ in _attack_requests(name, rng, i).items():
                for path, body, headers in requests_:
                    response = client.post(path, data=body, headers=headers, content_type="application/json")
                    tried[kind] = tried.get(kind, 0) + 1
                    refused[kind] = refused.get(kind, 0) + (response.status_code == 401)
        body = json.dumps(
            ticket_payload("replayed", event_id="replayed") if name == "generic" else fixture(CREATED[name])
        ).encode()
        path, headers = _generic(body) if name == "generic" else signed(name, body)
        first = client.post(path, data=body, headers=headers, content_type="application/json")
        for _ in range(ATTACK_ROUNDS):  # the same signed request again: no second ticket
            again = client.post(path, data=body, headers=headers, content_type="application/json")
            tried["replayed"] = tried.get("replayed", 0) + 1
            refused["replayed"] = refused.get("replayed", 0) + (
                again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
            )
    print("\nsignature attacks refused:", {k: f"{refused[k]}/{tried[k]}" for k in tried})
    assert refused == tried
    with session_scope(factory) as session:
        assert session.query(Ticket).count() == 5  # the one genuine request per channel
