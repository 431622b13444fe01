"""Each helpdesk end to end: its signed webhook over real HTTP into gunicorn, triage by the real Celery
worker, routing, and the write-back call that provider expects, recorded by a local fake of its API; and
Zammad's close, whose final intent the worker reads back from the fake's tags API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from shared.db import build_engine, build_session_factory, session_scope
from shared.integrations.models import Resolution
from tests.helpdesk_fake import Call, RecordingHelpdesk
from tests.helpdesk_requests import API_TOKEN, SECRETS, fixture, signed
from tests.integration.conftest import Stack, helpdesk_env

CASES = {  # integration → (fixture, the write-back call it expects, where the note text is)
    "zendesk": (
        "zendesk_ticket_created",
        ("PUT", "/api/v2/tickets/35436.json"),
        ("ticket", "comment", "body"),
    ),
    "zammad": ("zammad_ticket_created", ("POST", "/api/v1/ticket_articles"), ("body",)),
    "jira": ("jira_issue_created", ("POST", "/rest/servicedeskapi/request/SUP-88/comment"), ("body",)),
    "freshdesk": ("freshdesk_ticket_created", ("POST", "/api/v2/tickets/5123/notes"), ("body",)),
}


@pytest.fixture
def stack_env(helpdesk: RecordingHelpdesk, tmp_path: Path) -> dict[str, str]:
    return helpdesk_env(helpdesk, tmp_path)


def _wait_for_write(helpdesk: RecordingHelpdesk, method: str, path: str, timeout: float) -> Call | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in helpdesk.writes() if (c.method, c.path) == (method, path)]
        if found:
            return found[0]
        time.sleep(0.2)
    return None


def test_every_helpdesk_ticket_ends_in_its_write_back_with_route_and_reasons(
    stack: Stack, helpdesk: RecordingHelpdesk
) -> None:
    accepted = {}
    for name, (fixture_name, _, _) in CASES.items():
        body = json.dumps(fixture(fixture_name)).encode()
        path, headers = signed(name, body)
        response = requests.post(stack.base_url + path, data=body, headers=headers, timeout=10)
        assert response.status_code == 202, response.text
        accepted[name] = response.json()["id"]
    for name, (_, (method, path), text_at) in CASES.items():
        call = _wait_for_write(helpdesk, method, path, timeout=60)
        assert call is not None, (
            f"{name}: no {method} {path} in {[(c.method, c.path) for c in helpdesk.calls]}"
        )
        note = call.json()
        for key in text_at:
            note = note[key]
        assert "route: draft" in note and "Why: " in note and "no_draft" in note, note
        assert "intent: " in note and accepted[name] in note  # the marker names our ticket
    views = {
        name: requests.get(
            f"{stack.base_url}/v1/tickets/{ticket_id}",
            headers={"Authorization": f"Bearer {stack.env['HELPLOOP_API_KEYS']}"},
            timeout=10,
        ).json()
        for name, ticket_id in accepted.items()
    }
    for name, view in views.items():
        assert view["routing"]["route"] == "draft", (name, view)
        assert [d["status"] for d in view["deliveries"]] == ["sent"], (name, view["deliveries"])
    logs = "\n".join(path.read_text() for path in stack.log_dir.glob("*.log"))
    assert "POST /v1/webhooks/freshdesk/[redacted]" in logs  # the access log ran, without the URL token
    assert API_TOKEN not in logs and SECRETS["freshdesk"] not in logs


def _final_labels(stack: Stack, ticket_id: str, timeout: float) -> tuple[dict[str, str], bool | None]:
    factory = build_session_factory(build_engine(stack.database_url))
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(factory) as session:
            row = session.scalars(select(Resolution).where(Resolution.ticket_id == ticket_id)).one()
            labels, correct = dict(row.final_labels), row.correct
        if labels or time.monotonic() > deadline:
            return labels, correct
        time.sleep(0.2)


def test_a_closed_zammad_ticket_gets_the_intent_its_agent_left_in_the_tags(
    stack: Stack, helpdesk: RecordingHelpdesk
) -> None:
    """Zammad's documented default payload has no tags: the gateway stages the read, the worker asks
    Zammad's tags API (the fake keeps the tags write-back added, and the agent's correction)."""
    body = json.dumps(fixture("zammad_ticket_created")).encode()
    path, headers = signed("zammad", body)
    response = requests.post(stack.base_url + path, data=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    ticket_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while not any(t.startswith("helploop_intent_") for t in helpdesk.tags.get("1042", [])):
        assert time.monotonic() < deadline, [(c.method, c.path) for c in helpdesk.calls]
        time.sleep(0.2)
    predicted = next(t for t in helpdesk.tags["1042"] if t.startswith("helploop_intent_"))
    corrected = "complaint" if predicted != "helploop_intent_complaint" else "return_item"
    helpdesk.tags["1042"] = [t for t in helpdesk.tags["1042"] if t != predicted] + [
        f"helploop_intent_{corrected}"
    ]
    body = json.dumps(fixture("zammad_ticket_closed")).encode()
    path, headers = signed("zammad", body)
    closed = requests.post(stack.base_url + path, data=body, headers=headers, timeout=10)
    assert closed.status_code == 200 and closed.json()["resolution"]["final_labels"] == {}, closed.text
    assert _final_labels(stack, ticket_id, timeout=30) == ({"label": corrected}, False)
    (read,) = [c for c in helpdesk.calls if c.method == "GET" and c.path.startswith("/api/v1/tags")]
    assert read.path == "/api/v1/tags?object=Ticket&o_id=1042"
    assert read.headers["Authorization"] == f"Token token={API_TOKEN}"
