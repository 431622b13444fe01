"""Zammad resolution feedback: Zammad's documented default payload carries no tags, so a closed ticket's
final intent is read from Zammad's tags API by the write-back worker (see tests/fixtures/webhooks/README.md).

Real SQLite and PostgreSQL, real Redis (the outbox message reaches the broker), the recording fake of
Zammad's REST API for the tags, and the Celery task run eagerly (its retry runs again at once)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.app import create_app
from services.gateway.feedback.service import record_resolution
from services.gateway.webhooks import payloads
from services.inference.writeback.delivery import WritebackContext
from services.inference.writeback.final_labels import LabelsOutcome, fetch_final_labels
from shared.celery_app import QUEUE_CALLBACKS, TASK_RESOLUTION_LABELS
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.config import load_integrations
from shared.integrations.models import Resolution
from shared.outbox.models import OutboxMessage
from shared.outbox.service import relay_pending
from shared.tickets.models import TriageResult
from tests.conftest import settings_overrides
from tests.helpdesk_fake import RecordingHelpdesk
from tests.helpdesk_requests import API_TOKEN, fixture, integrations_yaml, signed

# the keys of the sample in Zammad's admin documentation, "Webhook Payload" (default payload)
DOCUMENTED_TICKET_KEYS = frozenset(
    [
        "article_count",
        "article_ids",
        "create_article_sender",
        "create_article_sender_id",
        "create_article_type",
        "create_article_type_id",
        "created_at",
        "created_by",
        "created_by_id",
        "customer",
        "customer_id",
        "group",
        "group_id",
        "id",
        "last_contact_at",
        "last_contact_customer_at",
        "number",
        "organization",
        "organization_id",
        "owner",
        "owner_id",
        "priority",
        "priority_id",
        "state",
        "state_id",
        "ticket_time_accounting",
        "ticket_time_accounting_ids",
        "title",
        "updated_at",
        "updated_by",
        "updated_by_id",
    ]
)
DOCUMENTED_ARTICLE_KEYS = frozenset(
    [
        "attachments",
        "body",
        "content_type",
        "created_at",
        "created_by",
        "created_by_id",
        "from",
        "id",
        "internal",
        "origin_by",
        "origin_by_id",
        "sender",
        "sender_id",
        "ticket_id",
        "to",
        "type",
        "type_id",
        "updated_at",
        "updated_by",
        "updated_by_id",
        "accounted_time",
    ]
)
TAGS_PATH = "/api/v1/tags?object=Ticket&o_id=1042"


@dataclass
class Setup:
    app: Flask
    client: FlaskClient
    factory: sessionmaker[Session]
    writeback: WritebackContext
    helpdesk: RecordingHelpdesk
    broker: redis.Redis


@pytest.fixture
def setup(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    monkeypatch.setenv("HELPDESK_API_TOKEN", API_TOKEN)
    upgrade_database(database_url)
    with RecordingHelpdesk() as helpdesk:
        path = integrations_yaml(tmp_path / "integrations.yml", helpdesk.url)
        overrides = settings_overrides(
            database_url=database_url,
            redis_url=redis_url,
            model_registry_dir=tmp_path / "models",
            integrations_file=path,
        )
        app = create_app(overrides)
        factory = build_session_factory(build_engine(database_url))
        writeback = WritebackContext(
            factory, load_integrations(path), requests.Session(), max_attempts=3, backoff_base_s=0.01
        )
        yield Setup(app, app.test_client(), factory, writeback, helpdesk, redis.Redis.from_url(redis_url))


def post(client: FlaskClient, document: Any):  # type: ignore[no-untyped-def]
    body = json.dumps(document).encode()
    path, headers = signed("zammad", body)
    return client.post(path, data=body, headers=headers, content_type="application/json")


def received_and_triaged(setup: Setup, predicted: str) -> str:
    """Zammad's documented new-ticket payload through the gateway, then a classification."""
    response = post(setup.client, fixture("zammad_ticket_created"))
    assert response.status_code == 202, response.get_json()
    ticket_id = response.get_json()["id"]
    with session_scope(setup.factory) as session:
        session.add(
            TriageResult(
                ticket_id=ticket_id,
                model_version="m1",
                label=predicted,
                confidence=0.91,
                top_k=[[predicted, 0.91]],
                out_of_scope=False,
                heads={},
                language="en",
                language_supported=True,
                inference_ms=3.0,
            )
        )
    return ticket_id


def resolution(setup: Setup, ticket_id: str) -> Resolution:
    with session_scope(setup.factory) as session:
        row = session.scalars(select(Resolution).where(Resolution.ticket_id == ticket_id)).one()
        session.expunge(row)
        return row


def label_messages(setup: Setup) -> list[OutboxMessage]:
    with session_scope(setup.factory) as session:
        query = select(OutboxMessage).where(OutboxMessage.task == TASK_RESOLUTION_LABELS)
        rows = list(session.scalars(query.order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def run_task(setup: Setup, monkeypatch: pytest.MonkeyPatch, ticket_id: str) -> Any:
    """The worker's Celery task, eagerly (a `self.retry` runs it again at once, counting the retry)."""
    from services.inference import writeback_tasks

    monkeypatch.setattr(writeback_tasks, "worker_context", lambda: SimpleNamespace(writeback=setup.writeback))
    return writeback_tasks.fetch_resolution_labels.apply(args=[ticket_id]).get()


def test_zammads_documented_payloads_have_no_tags_so_the_labels_are_fetched() -> None:
    for name in ("zammad_ticket_created", "zammad_ticket_closed", "zammad_ticket_closed_state_change"):
        document = fixture(name)
        assert set(document["ticket"]) == DOCUMENTED_TICKET_KEYS, name  # nothing added (no `tags`)
        assert document["article"] == {} or set(document["article"]) == DOCUMENTED_ARTICLE_KEYS, name
    closed = payloads.parse_zammad(fixture("zammad_ticket_closed"))
    assert isinstance(closed, payloads.Resolved) and closed.labels_from_helpdesk
    assert closed.final_labels == {} and "refund was issued" in (closed.reply or "")
    state_change = payloads.parse_zammad(fixture("zammad_ticket_closed_state_change"))
    assert state_change == payloads.Resolved("1042", {}, None, labels_from_helpdesk=True)
    custom = fixture("zammad_ticket_closed")
    custom["ticket"]["tags"] = "helploop, helploop_intent_return_item"  # a custom payload may add them
    assert payloads.parse_zammad(custom) == payloads.Resolved(
        "1042", {"label": "return_item"}, closed.reply, labels_from_helpdesk=False
    )


@pytest.mark.parametrize(("final_tag", "correct"), [("return_item", False), ("refund_request", True)])
def test_documented_closed_payload_gets_its_final_intent_from_the_tags_api(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, final_tag: str, correct: bool
) -> None:
    ticket_id = received_and_triaged(setup, predicted="refund_request")
    setup.helpdesk.tags["1042"] = ["helploop", "helploop_route_draft", f"helploop_intent_{final_tag}"]
    response = post(setup.client, fixture("zammad_ticket_closed"))
    assert response.status_code == 200 and response.get_json()["status"] == "recorded", response.get_json()
    recorded = response.get_json()["resolution"]
    assert recorded["final_labels"] == {} and recorded["correct"] is None  # not in Zammad's payload
    assert "refund was issued" in recorded["reply"]
    (message,) = label_messages(setup)  # staged with the resolution, for the write-back worker
    assert (message.args, message.queue, message.sent_at) == ([ticket_id], QUEUE_CALLBACKS, None)
    publish = setup.app.extensions["helploop"].publish
    assert relay_pending(session_factory=setup.factory, publish=publish).sent >= 1
    queued = [json.loads(m) for m in setup.broker.lrange(QUEUE_CALLBACKS, 0, -1)]
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in queued] == [
        (TASK_RESOLUTION_LABELS, repr([ticket_id]))
    ]
    assert run_task(setup, monkeypatch, ticket_id) == LabelsOutcome.UPDATED
    row = resolution(setup, ticket_id)
    assert (row.final_labels, row.correct, row.predicted_label) == (
        {"label": final_tag},
        correct,
        "refund_request",
    )
    (call,) = [c for c in setup.helpdesk.calls if c.method == "GET"]
    assert (call.path, call.headers["Authorization"]) == (TAGS_PATH, f"Token token={API_TOKEN}")


def test_a_close_without_an_article_is_recorded_and_labelled_too(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = received_and_triaged(setup, predicted="refund_request")
    setup.helpdesk.tags["1042"] = ["helploop_intent_return_item"]
    response = post(setup.client, fixture("zammad_ticket_closed_state_change"))
    assert response.status_code == 200 and response.get_json()["resolution"]["reply"] is None
    assert [m.args for m in label_messages(setup)] == [[ticket_id]]
    assert run_task(setup, monkeypatch, ticket_id) == LabelsOutcome.UPDATED
    assert resolution(setup, ticket_id).final_labels == {"label": "return_item"}


def test_a_payload_with_tags_is_labelled_at_once_without_asking_zammad(setup: Setup) -> None:
    ticket_id = received_and_triaged(setup, predicted="refund_request")
    document = fixture("zammad_ticket_closed")
    document["ticket"]["tags"] = ["helploop", "helploop_intent_return_item"]
    response = post(setup.client, document)
    assert response.get_json()["resolution"]["final_labels"] == {"label": "return_item"}
    row = resolution(setup, ticket_id)
    assert (row.final_labels, row.correct) == ({"label": "return_item"}, False)
    assert label_messages(setup) == [] and setup.helpdesk.calls == []


def recorded_for_fetch(setup: Setup) -> str:
    """The service call the webhook makes for a tagless close: the resolution and its outbox message."""
    ticket_id = received_and_triaged(setup, predicted="refund_request")
    record_resolution(
        session_factory=setup.factory,
        source="zammad",
        external_id="1042",
        final_labels={},
        reply=None,
        fetch_labels=True,
    )
    assert [m.args for m in label_messages(setup)] == [[ticket_id]]
    return ticket_id


def test_zammad_down_then_up_is_retried_with_backoff(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = recorded_for_fetch(setup)
    setup.helpdesk.tags["1042"] = ["helploop_intent_return_item"]
    setup.helpdesk.script("GET", "/api/v1/tags", 503)
    setup.helpdesk.script("GET", "/api/v1/tags", 429, headers={"Retry-After": "0"})
    failed = fetch_final_labels(ticket_id=ticket_id, attempt=0, context=setup.writeback)
    assert failed.outcome is LabelsOutcome.RETRY and 0 < failed.delay_s <= 0.01
    assert resolution(setup, ticket_id).final_labels == {}
    assert run_task(setup, monkeypatch, ticket_id) == LabelsOutcome.UPDATED  # 429, retried, then 200
    assert [c.path for c in setup.helpdesk.calls] == [TAGS_PATH] * 3
    assert (resolution(setup, ticket_id).final_labels, resolution(setup, ticket_id).correct) == (
        {"label": "return_item"},
        False,
    )


def test_zammad_down_for_every_attempt_gives_up(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = recorded_for_fetch(setup)
    setup.helpdesk.script("GET", "/api/v1/tags", 502, times=10)
    assert run_task(setup, monkeypatch, ticket_id) == LabelsOutcome.GAVE_UP
    assert len(setup.helpdesk.calls) == setup.writeback.max_attempts
    assert resolution(setup, ticket_id).final_labels == {}


def test_a_ticket_gone_from_zammad_is_given_up_and_logged(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ticket_id = recorded_for_fetch(setup)
    setup.helpdesk.script("GET", "/api/v1/tags", 404, body={"error": "No such ticket."})
    with caplog.at_level(logging.ERROR, logger="services.inference.writeback.final_labels"):
        assert run_task(setup, monkeypatch, ticket_id) == LabelsOutcome.GAVE_UP
    assert len(setup.helpdesk.calls) == 1  # no retry after a 404
    assert "1042" in caplog.text and "404" in caplog.text and API_TOKEN not in caplog.text
    row = resolution(setup, ticket_id)
    assert (row.final_labels, row.correct) == ({}, None)


def test_no_intent_tag_leaves_the_resolution_unlabelled(setup: Setup) -> None:
    ticket_id = recorded_for_fetch(setup)
    setup.helpdesk.tags["1042"] = ["vip", "helploop"]
    result = fetch_final_labels(ticket_id=ticket_id, attempt=0, context=setup.writeback)
    assert result.outcome is LabelsOutcome.NO_INTENT_TAG
    assert resolution(setup, ticket_id).final_labels == {}
    assert fetch_final_labels(ticket_id="no-such-ticket", attempt=0, context=setup.writeback).outcome is (
        LabelsOutcome.NOTHING_TO_DO
    )
