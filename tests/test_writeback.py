"""Routing + write-back against a local HTTP server that records the exact API calls: each provider's
method, path, auth and body; retries on 5xx/429 (Retry-After honoured), none after a 400; dead letters;
no second note after a crash between "posted" and "recorded"; a flagged draft never auto-sent."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.deliveries.service import requeue_dead_letter
from services.gateway.feedback.service import record_resolution
from services.gateway.tickets.service import ingest_ticket
from services.inference.routing import RoutingContext, route_ticket
from services.inference.writeback.delivery import (
    DeliveryOutcome,
    WritebackContext,
    backoff_delay,
    deliver,
    retry_after_seconds,
)
from shared.celery_app import TASK_WRITEBACK
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.drafting.models import Draft
from shared.integrations.config import load_integrations
from shared.integrations.models import Delivery, DeliveryStatus
from shared.routing.policy import PolicyHolder
from shared.signing import SIGNATURE_HEADER, verify
from shared.tickets.models import TriageResult
from tests.helpdesk_fake import RecordingHelpdesk
from tests.helpdesk_requests import API_TOKEN, integrations_yaml
from tests.test_storage import ticket_in

AUTO_POLICY = (
    "auto_reply: {enabled: true, min_confidence: 0.9}\nintents: {where_is_my_order: {auto_reply: true}}\n"
)


@pytest.fixture
def helpdesk() -> Iterator[RecordingHelpdesk]:
    with RecordingHelpdesk() as fake:
        yield fake


@pytest.fixture
def factory(database_url: str) -> sessionmaker[Session]:
    upgrade_database(database_url)
    return build_session_factory(build_engine(database_url))


@pytest.fixture
def contexts(factory, helpdesk: RecordingHelpdesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HELPDESK_API_TOKEN", API_TOKEN)
    path = integrations_yaml(tmp_path / "integrations.yml", helpdesk.url, callback_url=f"{helpdesk.url}/hook")
    integrations = load_integrations(path)
    policy = tmp_path / "policy.yml"
    policy.write_text(AUTO_POLICY)
    routing = RoutingContext(factory, PolicyHolder(policy), integrations)
    writeback = WritebackContext(
        factory, integrations, requests.Session(), max_attempts=3, backoff_base_s=0.01, timeout_s=5
    )
    return routing, writeback


def model_draft(ticket_id: str, flags: list[str]) -> Draft:
    return Draft(
        ticket_id=ticket_id,
        generator_version="g1",
        source="model",
        text="Your parcel NW-1 is on its way.",
        citations=["late-or-lost-parcels"],
        flags=flags,
        reasons=[f"{f}: test" for f in flags],
        intent="where_is_my_order",
        prompt_tokens=10,
        tokens=8,
        latency_ms=5.0,
    )


def triaged_ticket(
    factory: sessionmaker[Session],
    source: str,
    external_id: str,
    *,
    flags: list[str] | None = None,
    body: str = "Where is my parcel NW-1?",
    customer: str = "c1",
) -> str:
    ticket = ticket_in(body).model_copy(update={"external_id": external_id})
    ticket.customer.id = customer
    ticket.customer.email = f"{customer}@example.com"
    result = ingest_ticket(
        session_factory=factory,
        publish=lambda *_: None,
        source=source,
        event_id=f"e-{source}-{external_id}",
        ticket=ticket,
    )
    with session_scope(factory) as session:
        heads = {"sentiment": {"label": "neutral", "confidence": 0.9, "top_k": [], "out_of_scope": False}}
        session.add(
            TriageResult(
                ticket_id=result.ticket_id,
                model_version="m1",
                label="where_is_my_order",
                confidence=0.96,
                top_k=[["where_is_my_order", 0.96]],
                out_of_scope=False,
                heads=heads,
                language="en",
                language_supported=True,
                inference_ms=3.0,
            )
        )
        if flags is not None:
            session.add(model_draft(result.ticket_id, flags))
    return result.ticket_id


def run_all(contexts: Any, ticket_id: str) -> list[DeliveryOutcome]:
    routing, writeback = contexts
    return [
        deliver(delivery_id=d, context=writeback).outcome
        for d in route_ticket(ticket_id=ticket_id, context=routing)
    ]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_zendesk_gets_a_private_comment_tags_and_fields(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    ticket_id = triaged_ticket(factory, "zendesk", "35436")
    assert run_all(contexts, ticket_id) == [DeliveryOutcome.SENT]
    (call,) = helpdesk.writes()
    assert (call.method, call.path) == ("PUT", "/api/v2/tickets/35436.json")
    assert call.headers["Authorization"] == basic("helploop@acme.example/token", API_TOKEN)
    update = call.json()["ticket"]
    assert update["comment"]["public"] is False
    assert "route: draft" in update["comment"]["body"] and "no_draft" in update["comment"]["body"]
    assert set(update["additional_tags"]) >= {"helploop_route_draft", "helploop_intent_where_is_my_order"}
    assert update["custom_fields"] == [
        {"id": 360001, "value": "where_is_my_order"},
        {"id": 360002, "value": "draft"},
    ]
    assert run_all(contexts, ticket_id) == []  # a redelivered routing task plans nothing new


@pytest.mark.parametrize(
    ("source", "external_id", "method", "path", "auth"),
    [
        ("zammad", "1042", "POST", "/api/v1/ticket_articles", f"Token token={API_TOKEN}"),
        ("freshdesk", "5123", "POST", "/api/v2/tickets/5123/notes", basic(API_TOKEN, "X")),
        (
            "jira",
            "SUP-88",
            "POST",
            "/rest/servicedeskapi/request/SUP-88/comment",
            basic("helploop@acme.example", API_TOKEN),
        ),
    ],
)
def test_each_provider_gets_its_internal_note(
    contexts, factory, helpdesk, source, external_id, method, path, auth
) -> None:  # type: ignore[no-untyped-def]
    ticket_id = triaged_ticket(factory, source, external_id)
    assert run_all(contexts, ticket_id) == [DeliveryOutcome.SENT]
    note = helpdesk.writes()[0]
    assert (note.method, note.path, note.headers["Authorization"]) == (method, path, auth)
    body = note.json()
    private = {"zammad": ("internal", True), "freshdesk": ("private", True), "jira": ("public", False)}[
        source
    ]
    assert body[private[0]] is private[1] and "route: draft" in body["body"]
    if source == "zammad":
        assert body["ticket_id"] == 1042 and body["type"] == "note"
        tags = [c.json()["item"] for c in helpdesk.writes()[1:]]
        assert "helploop_intent_where_is_my_order" in tags


def test_auto_reply_only_with_a_clean_draft(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    clean = triaged_ticket(factory, "zendesk", "1", flags=[])
    assert run_all(contexts, clean) == [DeliveryOutcome.SENT, DeliveryOutcome.SENT]
    note, reply = helpdesk.writes()
    assert note.json()["ticket"]["comment"]["public"] is False
    assert reply.json()["ticket"]["comment"] == {"body": "Your parcel NW-1 is on its way.", "public": True}
    helpdesk.calls.clear()
    flagged = triaged_ticket(factory, "freshdesk", "2", flags=["ungrounded"])
    assert run_all(contexts, flagged) == [DeliveryOutcome.SENT]
    (only,) = helpdesk.writes()
    assert only.path.endswith("/notes") and "draft_flagged:ungrounded" in only.json()["body"]


def test_generic_callback_is_signed(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    ticket_id = triaged_ticket(factory, "api", "A-1")
    assert run_all(contexts, ticket_id) == [DeliveryOutcome.SENT]
    (call,) = helpdesk.writes()
    verify(call.headers[SIGNATURE_HEADER], call.body, ["callback-signing-secret-0123456"])
    assert call.json()["route"] == "draft" and call.headers["X-Helploop-Delivery"].startswith(ticket_id)


def _delivery(factory: sessionmaker[Session], delivery_id: int) -> Delivery:
    with session_scope(factory) as session:
        row = session.get(Delivery, delivery_id)
        session.expunge(row)
        return row


def test_5xx_and_429_are_retried_honouring_retry_after_then_dead(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    routing, writeback = contexts
    (delivery_id,) = route_ticket(ticket_id=triaged_ticket(factory, "jira", "SUP-1"), context=routing)
    helpdesk.script("POST", "/rest/servicedeskapi", 429, headers={"Retry-After": "7"})
    first = deliver(delivery_id=delivery_id, context=writeback)
    assert first.outcome is DeliveryOutcome.RETRY and first.delay_s == 7.0
    helpdesk.script("GET", "/rest/servicedeskapi", 503, times=2)
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.RETRY
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.DEAD
    row = _delivery(factory, delivery_id)
    assert row.status == DeliveryStatus.DEAD and row.attempts == 3 and "gave up after 3" in row.last_error
    assert API_TOKEN not in row.last_error
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.NOTHING_TO_DO


def test_a_400_is_never_retried(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    routing, writeback = contexts
    (delivery_id,) = route_ticket(ticket_id=triaged_ticket(factory, "freshdesk", "9"), context=routing)
    helpdesk.script("POST", "/api/v2/tickets/9/notes", 400, body={"description": "Validation failed"})
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.DEAD
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.NOTHING_TO_DO
    assert len(helpdesk.writes()) == 1
    assert _delivery(factory, delivery_id).last_status_code == 400


def test_no_second_note_after_a_crash_between_posted_and_recorded(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    routing, writeback = contexts
    (delivery_id,) = route_ticket(ticket_id=triaged_ticket(factory, "zammad", "77"), context=routing)
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.SENT
    with session_scope(
        factory
    ) as session:  # what a kill -9 after the POST leaves: attempt on record, not sent
        session.get(Delivery, delivery_id).status = DeliveryStatus.PENDING
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.ALREADY_POSTED
    articles = [c for c in helpdesk.writes() if c.path == "/api/v1/ticket_articles"]
    assert len(articles) == 1
    assert [c.path for c in helpdesk.calls if c.method == "GET"] == ["/api/v1/ticket_articles/by_ticket/77"]


def test_backoff_grows_with_jitter_and_parses_retry_after() -> None:
    delays = [backoff_delay(n, base_s=2, max_s=300, retry_after=None) for n in (1, 2, 3, 10)]
    assert 1 <= delays[0] <= 2 and 2 <= delays[1] <= 4 and 4 <= delays[2] <= 8 and 150 <= delays[3] <= 300
    assert backoff_delay(1, base_s=2, max_s=300, retry_after=1000) == 300
    assert retry_after_seconds("12") == 12.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_lost_write_back_message_is_re_enqueued_by_the_sweeper(contexts, factory) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from services.inference.sweeper import requeue_stale_deliveries
    from shared.db.base import utcnow

    routing, _ = contexts
    (delivery_id,) = route_ticket(ticket_id=triaged_ticket(factory, "zendesk", "5"), context=routing)
    sent: list[int] = []
    assert requeue_stale_deliveries(session_factory=factory, enqueue=sent.append, stale_after_s=60) == []
    with session_scope(factory) as session:
        session.get(Delivery, delivery_id).created_at = utcnow() - timedelta(minutes=5)
    assert requeue_stale_deliveries(session_factory=factory, enqueue=sent.append, stale_after_s=60) == [
        delivery_id
    ]
    assert requeue_stale_deliveries(session_factory=factory, enqueue=sent.append, stale_after_s=60) == []
    assert sent == [delivery_id]


def test_a_retried_dead_letter_is_pending_with_its_outbox_message(contexts, factory, helpdesk) -> None:  # type: ignore[no-untyped-def]
    routing, writeback = contexts
    (delivery_id,) = route_ticket(ticket_id=triaged_ticket(factory, "freshdesk", "10"), context=routing)
    helpdesk.script("POST", "/api/v2/tickets/10/notes", 400, body={"description": "Validation failed"})
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.DEAD
    view, message = requeue_dead_letter(session_factory=factory, delivery_id=delivery_id)
    assert view.status == DeliveryStatus.PENDING and message is not None
    assert (message.task, message.args, message.claim is not None) == (TASK_WRITEBACK, [delivery_id], True)
    assert deliver(delivery_id=delivery_id, context=writeback).outcome is DeliveryOutcome.SENT
    assert requeue_dead_letter(session_factory=factory, delivery_id=delivery_id)[1] is None  # sent: none
    assert requeue_dead_letter(session_factory=factory, delivery_id=10**9) is None


def test_an_escalated_ticket_gets_a_brief_from_the_ticket_and_this_customers_history(  # type: ignore[no-untyped-def]
    contexts, factory, helpdesk, tmp_path
) -> None:
    routing, _ = contexts
    policy = tmp_path / "escalate.yml"
    policy.write_text("intents: {where_is_my_order: {escalate: true}}\n")
    escalating = RoutingContext(factory, PolicyHolder(policy), routing.integrations)
    earlier = triaged_ticket(factory, "zendesk", "901", body="Parcel NW-1 is late.")
    record_resolution(
        session_factory=factory,
        source="api",
        final_labels={"label": "where_is_my_order"},
        reply="Traced.",
        ticket_id=earlier,
    )
    triaged_ticket(factory, "zendesk", "902", body="Someone else's parcel NW-7.", customer="c2")
    body = "Order NW-48213 ($59.90) still not here after two weeks. Can you refund me? Mail c1@example.com"
    ticket_id = triaged_ticket(factory, "zendesk", "903", flags=[], body=body)
    assert run_all((escalating, contexts[1]), ticket_id) == [DeliveryOutcome.SENT]
    note = helpdesk.writes()[-1].json()["ticket"]["comment"]["body"]
    assert "route: escalate" in note and "Brief for the agent:" in note
    assert "- Asks: “Can you refund me?”" in note and "sentiment: neutral" in note
    assert "reference “NW-48213”; amount “$59.90”; duration “two weeks”" in note
    assert "where_is_my_order · resolved as where_is_my_order on" in note and "ticket 901" in note
    assert "ticket 902" not in note and "NW-7" not in note  # another customer's history never enters
    assert "c1@example.com" not in note and "Suggested articles: late-or-lost-parcels" in note
    assert "- Generator: model's answer: “Your parcel NW-1 is on its way.”" in note  # the clean draft's gist
    assert "- Classifier:" not in note  # sure (0.96): no runners-up


def _resolved(
    factory, external_id: str, body: str, reply: str, *, customer: str = "c1", source: str = "zendesk"
) -> str:  # type: ignore[no-untyped-def]
    ticket_id = triaged_ticket(factory, source, external_id, body=body, customer=customer)
    record_resolution(
        session_factory=factory,
        source="api",
        final_labels={"label": "where_is_my_order"},
        reply=reply,
        ticket_id=ticket_id,
    )
    return ticket_id


def _follow_up_history(factory) -> list:  # type: ignore[no-untyped-def]
    """c1's follow-up after one resolved ticket; around it: c1's ticket past retention, c2's ticket, c1's
    e-mail on another helpdesk, and c1's later ticket — none of which may reach the prompt."""
    from datetime import timedelta

    from shared.db.base import utcnow
    from shared.drafting.history import prompt_history
    from shared.tickets.models import Ticket

    old = _resolved(factory, "910", "Parcel NW-10000 is late.", "Traced NW-10000.")
    with session_scope(factory) as session:  # outside the retention window
        session.get(Ticket, old).received_at = utcnow() - timedelta(days=400)
    _resolved(
        factory,
        "911",
        "Parcel NW-11111 is late.",
        "We opened a trace for NW-11111; result by 28 November. Call 07700 900431",
    )
    _resolved(factory, "912", "Someone else's parcel NW-22222.", "Traced NW-22222.", customer="c2")
    _resolved(
        factory, "913", "Same e-mail, another helpdesk: NW-33333.", "Traced NW-33333.", source="freshdesk"
    )
    follow_up = triaged_ticket(factory, "zendesk", "914", body="Still nothing here.")
    triaged_ticket(factory, "zendesk", "915", body="Later ticket NW-55555.")  # after the one drafted
    with session_scope(factory) as session:
        return prompt_history(session, session.get(Ticket, follow_up), retention_days=365)


def test_the_drafting_prompt_holds_this_customers_history_and_nobody_elses(factory) -> None:  # type: ignore[no-untyped-def]
    from shared.drafting.guardrails import Flag, check_draft
    from shared.drafting.prompt import build_prompt

    history = _follow_up_history(factory)
    assert [h.intent for h in history] == ["where_is_my_order"] and "NW-11111" in history[0].ticket
    assert "28 November" in history[0].reply and "900431" not in history[0].reply  # redacted
    prompt = build_prompt(
        ticket="Still nothing here.", intent="where_is_my_order", passages=[], history=history
    )
    assert "Earlier tickets from this customer" in prompt and "result by 28 November" in prompt
    for other in ("NW-10000", "NW-22222", "NW-33333", "NW-55555"):
        assert other not in prompt
    assert "Earlier tickets" not in build_prompt(ticket="Hi", intent=None, passages=[])
    draft = "Hi, I'm sorry the parcel for order NW-11111 is still not there: we promised news by 28 November."
    grounded = check_draft(draft, ticket_text="Still nothing here.", cited_articles=[], language="en")
    assert Flag.UNGROUNDED in grounded.flags  # without the history the order id is invented
    report = check_draft(
        draft,
        ticket_text="Still nothing here.",
        cited_articles=[],
        language="en",
        history=[h.grounding_text() for h in history],
    )
    assert Flag.UNGROUNDED not in report.flags
