"""The console through Flask's test client on a real SQLite database: sign-in and its cookie, CSRF on every
form, scopes (no admin buttons, 403 on a forged post, no audit log for a read-only key), corrections
stored as resolution feedback, the inbox's keyset pages and filters, the review queue, escaping, the
translations. The same flows in a real Chromium: tests/test_console_browser.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select

from helploop.bench.console_data import INTENTS, seed_inbox
from services.gateway.app import create_app
from services.gateway.console import HERE as CONSOLE_DIR
from shared.access.models import AuditEntry
from shared.access.service import create_key, record_audit, revoke_key
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.models import Delivery, DeliveryStatus, Resolution
from shared.outbox.models import OutboxMessage
from shared.tickets.models import Ticket
from tests.conftest import ADMIN_API_KEY, API_KEY, settings_overrides
from tests.console_support import csrf_of, dead_delivery, sign_in, small_registry


@pytest.fixture
def factory(sqlite_url: str) -> Any:
    upgrade_database(sqlite_url)
    return build_session_factory(build_engine(sqlite_url))


@pytest.fixture
def seeded(factory: Any) -> list[str]:
    return seed_inbox(factory, 230)


def _app(sqlite_url: str, redis_url: str, tmp_path: Path, **extra: Any) -> Any:
    overrides = settings_overrides(
        database_url=sqlite_url,
        redis_url=redis_url,
        model_registry_dir=small_registry(tmp_path / "models").root,
        api_key_cache_s=0,
        console_page_size=50,
        **extra,
    )
    return create_app(overrides)


@pytest.fixture
def client(sqlite_url: str, redis_url: str, tmp_path: Path, factory: Any) -> FlaskClient:
    return _app(sqlite_url, redis_url, tmp_path).test_client()


def _text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_sign_in_gives_a_strict_cookie_and_only_keys_that_may_read_get_one(
    client: FlaskClient, factory: Any
) -> None:
    assert client.get("/console/tickets").headers["Location"].startswith("/console/sign-in")
    token = csrf_of(client)
    refused = client.post("/console/sign-in", data={"api_key": "not-a-key", "csrf_token": token})
    assert refused.status_code == 401 and "invalid API key" in _text(refused)
    _, ingest_only = create_key(session_factory=factory, name="zendesk", scopes=["ingest"])
    refused = client.post("/console/sign-in", data={"api_key": ingest_only, "csrf_token": csrf_of(client)})
    assert refused.status_code == 403 and "read" in _text(refused)
    assert client.get("/console/tickets").status_code == 302  # still signed out
    answer = client.post("/console/sign-in", data={"api_key": ADMIN_API_KEY, "csrf_token": csrf_of(client)})
    cookie = answer.headers["Set-Cookie"]
    assert answer.status_code == 302 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie  # test env: plain HTTP
    assert ADMIN_API_KEY not in cookie  # the session holds the key's hash, never the key
    page = client.get("/console/tickets")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    client.post("/console/sign-out", data={"csrf_token": csrf_of(client, "/console/tickets")})
    assert client.get("/console/tickets").status_code == 302


def test_cookie_is_secure_outside_dev_and_test(
    sqlite_url: str, redis_url: str, tmp_path: Path, factory: Any
) -> None:
    strong = {
        "webhook_secrets": ["w" + "x9" * 20],
        "api_keys": ["r" + "y8" * 20],
        "admin_api_keys": ["a" + "z7" * 20],
    }
    app = _app(sqlite_url, redis_url, tmp_path, **{**strong, "env": "prod"})
    client = app.test_client()
    answer = client.post(
        "/console/sign-in", data={"api_key": strong["admin_api_keys"][0], "csrf_token": csrf_of(client)}
    )
    assert "Secure" in answer.headers["Set-Cookie"]


def test_every_form_is_refused_without_its_csrf_token(
    client: FlaskClient, factory: Any, seeded: list[str]
) -> None:
    assert client.post("/console/sign-in", data={"api_key": ADMIN_API_KEY}).status_code == 400
    sign_in(client, ADMIN_API_KEY)
    ticket = seeded[1]
    for data in ({"intent": "refund_request"}, {"intent": "refund_request", "csrf_token": "forged"}):
        refused = client.post(f"/console/tickets/{ticket}/labels", data=data)
        assert refused.status_code == 400 and "CSRF" in _text(refused)
    refused = client.post("/console/models/activate", data={"kind": "classifier", "version": "v2"})
    assert refused.status_code == 400
    with session_scope(factory) as session:
        assert session.scalars(select(Resolution).where(Resolution.ticket_id == ticket)).first() is None
    assert client.get("/console/models").get_data(as_text=True).count("pill active") == 1


def test_a_read_only_key_sees_no_admin_buttons_and_a_forged_post_gets_403(
    client: FlaskClient, factory: Any, seeded: list[str]
) -> None:
    record_audit(session_factory=factory, actor="key:secret-ops-team", action="models.activate", status=200)
    sign_in(client, API_KEY)  # ingest + read
    models = _text(client.get("/console/models"))
    assert "v2" in models and "Activate" not in models and "Roll back" not in models
    ticket = _text(client.get(f"/console/tickets/{seeded[0]}"))
    assert "correct-form" not in ticket and "Audit log" not in ticket
    token = csrf_of(client, "/console/tickets")
    forged = client.post(
        "/console/models/activate", data={"kind": "classifier", "version": "v2", "csrf_token": token}
    )
    assert forged.status_code == 403
    assert "pill active" in _text(client.get("/console/models")).split('data-version="v1"')[1][:200]
    relabel = client.post(
        f"/console/tickets/{seeded[0]}/labels", data={"intent": INTENTS[0], "csrf_token": token}
    )
    assert relabel.status_code == 403
    audit = client.get("/console/audit")
    assert audit.status_code == 403 and "secret-ops-team" not in _text(audit)
    with session_scope(factory) as session:
        actions = [(e.action, e.status, e.actor) for e in session.scalars(select(AuditEntry))]
    assert ("console.admin.model_action", 403, "env:api#1") in actions


def test_admin_actions_switch_the_registry_and_are_audited(
    client: FlaskClient, factory: Any, tmp_path: Path
) -> None:
    sign_in(client, ADMIN_API_KEY)
    confirm = client.get("/console/models/confirm/activate?kind=classifier&version=v2")
    assert "Activate v2 in place of v1" in _text(confirm)
    token = csrf_of(client, "/console/models")
    done = client.post(
        "/console/models/activate", data={"kind": "classifier", "version": "v2", "csrf_token": token}
    )
    assert done.status_code == 302
    assert (tmp_path / "models" / "active.json").read_text().count('"v2"') == 1
    client.post("/console/models/rollback", data={"kind": "classifier", "csrf_token": token})
    client.post("/console/models/shadow", data={"kind": "classifier", "version": "v2", "csrf_token": token})
    models = _text(client.get("/console/models"))
    assert "Shadow report: v2" in models and "0 live predictions beside the active model" in models
    client.post("/console/models/unshadow", data={"kind": "classifier", "csrf_token": token})
    assert '"version": "v1"' in (tmp_path / "models" / "active.json").read_text().replace('":"', '": "')
    with session_scope(factory) as session:
        audited = [
            (e.action, e.actor, e.status) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert audited[-4:] == [("console.admin.model_action", "env:admin#1", 302)] * 4


def test_a_correction_is_resolution_feedback_and_keeps_the_helpdesk_reply(
    client: FlaskClient, factory: Any, seeded: list[str]
) -> None:
    ticket = seeded[3]  # seeded without a final label
    api = {"Authorization": f"Bearer {API_KEY}"}
    posted = client.post(
        f"/v1/tickets/{ticket}/resolution", json={"reply": "Refund sent, call 13812345678"}, headers=api
    )
    assert posted.status_code == 200, posted.get_json()
    sign_in(client, ADMIN_API_KEY)
    token = csrf_of(client, f"/console/tickets/{ticket}")
    predicted = client.get(f"/v1/tickets/{ticket}", headers=api).get_json()["classification"]["label"]
    other = next(i for i in INTENTS if i != predicted)
    client.post(f"/console/tickets/{ticket}/labels", data={"intent": other, "csrf_token": token})
    view = client.get(f"/v1/tickets/{ticket}", headers=api).get_json()["resolution"]
    assert view["final_labels"]["label"] == other and view["correct"] is False
    assert view["reply"] and "13812345678" not in view["reply"]  # the helpdesk's reply kept, redacted
    client.post(f"/v1/tickets/{ticket}/resolution", json={"reply": "again"}, headers=api)  # no intent in it
    assert (
        client.get(f"/v1/tickets/{ticket}", headers=api).get_json()["resolution"]["final_labels"]["label"]
        == other
    )
    assert f"→ {other}" in _text(client.get(f"/console/tickets?q={ticket}"))


def test_inbox_pages_every_ticket_once_newest_first_and_filters(
    client: FlaskClient, seeded: list[str]
) -> None:
    sign_in(client, API_KEY)
    seen, url = [], "/console/tickets"
    while url:
        page = _text(client.get(url))
        seen += [part.split('"')[0] for part in page.split('href="/console/tickets/')[1:]]
        url = (
            page.split('id="older"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
            if 'id="older"' in page
            else ""
        )
    assert seen == seeded  # seeded newest first, 5 pages of 50, none twice, none missing
    refunds = _text(client.get("/console/tickets?intent=refund_request"))
    assert (
        refunds.count("<tr>") - 1 == 46
        and "where_is_my_order" not in refunds.split("<tbody>")[1].split("</tbody>")[0]
    )
    assert client.get("/console/tickets?before=2026-12-01+00:00|x").status_code == 400  # not a cursor
    assert _text(client.get("/console/tickets?q=EXT-17")).count("ticket-link") == 1
    assert _text(client.get("/console/tickets?q=nothing-like-this")).count("ticket-link") == 0
    escalated = _text(client.get("/console/tickets?route=escalate")).split("<tbody>")[1].split("</tbody>")[0]
    assert "<td>auto_reply</td>" not in escalated and escalated.count("<td>escalate</td>") == 50


def test_a_filter_matches_what_the_row_shows_not_an_older_decision(
    client: FlaskClient, factory: Any, seeded: list[str]
) -> None:
    """A ticket escalated, then re-routed to `draft` (re-classified with its attachments' text), is listed
    under `draft` only: the newest decision is what the inbox shows and filters on."""
    from shared.routing.models import RoutingDecision

    rerouted = next(t for i, t in enumerate(seeded) if i % 3 == 2)  # seeded as escalate
    with session_scope(factory) as session:
        first = session.scalars(select(RoutingDecision).where(RoutingDecision.ticket_id == rerouted)).one()
        assert first.route == "escalate"
        session.add(
            RoutingDecision(
                ticket_id=rerouted,
                key=f"{first.triage_result_id}:9",
                triage_result_id=first.triage_result_id,
                route="draft",
                queue="support",
                reasons=["re-classified"],
                policy_version=1,
            )
        )
    sign_in(client, API_KEY)
    listed: dict[str, list[str]] = {}
    for route in ("escalate", "draft"):
        url, listed[route] = f"/console/tickets?route={route}", []
        while url:
            page = _text(client.get(url))
            listed[route] += [p.split('"')[0] for p in page.split('href="/console/tickets/')[1:]]
            older = page.split('id="older"')[0].rsplit('href="', 1)[1] if 'id="older"' in page else ""
            url = older.split('"')[0].replace("&amp;", "&")
    assert rerouted in listed["draft"] and rerouted not in listed["escalate"]
    assert (
        len(listed["escalate"]) == 75 and len(listed["draft"]) == 78
    )  # seeded 77 auto, 77 draft, 76 escalate


def test_review_queue_puts_the_most_valuable_label_first(
    client: FlaskClient, factory: Any, seeded: list[str]
) -> None:
    sign_in(client, ADMIN_API_KEY)
    page = _text(client.get("/console/review"))
    order = [part.split('"')[0] for part in page.split('data-ticket="')[1:]]
    with session_scope(factory) as session:
        tickets = {t.id: t.latest_result for t in session.scalars(select(Ticket).where(Ticket.id.in_(order)))}
        labelled = set(session.scalars(select(Resolution.ticket_id)))
    values = [(1 - tickets[t].confidence) + 0.5 * tickets[t].out_of_scope for t in order]
    assert len(order) == 25 and values == sorted(values, reverse=True) and not labelled & set(order)
    token = csrf_of(client, "/console/review")
    client.post(f"/console/review/skip/{order[0]}", data={"csrf_token": token})
    client.post(
        f"/console/tickets/{order[1]}/labels",
        data={"intent": INTENTS[0], "csrf_token": token, "then": "review"},
    )
    after = _text(client.get("/console/review"))
    assert order[0] not in after and order[1] not in after and "1 given here" in after


def test_html_in_a_ticket_is_shown_as_text(client: FlaskClient, factory: Any, seeded: list[str]) -> None:
    with session_scope(factory) as session:
        ticket = session.get(Ticket, seeded[0])
        ticket.subject, ticket.body = "<b>bold</b>", '<script>alert("x")</script><img src=x onerror=alert(1)>'
    sign_in(client, API_KEY)
    for url in (f"/console/tickets/{seeded[0]}", "/console/tickets"):
        page = _text(client.get(url))
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
        assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_idle_sessions_and_revoked_keys_sign_out(
    client: FlaskClient, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = create_key(session_factory=factory, name="lead", scopes=["read"])
    sign_in(client, key)
    assert client.get("/console/tickets").status_code == 200
    revoke_key(session_factory=factory, key_id=key[:12])
    assert client.get("/console/tickets").status_code == 302
    sign_in(client, API_KEY)
    import services.gateway.console.signin as signin

    later = signin.time.time() + 1801  # the default idle limit is 30 minutes
    monkeypatch.setattr(signin.time, "time", lambda: later)
    assert client.get("/console/tickets").status_code == 302


def test_dead_letters_retry_and_knowledge_base_edit(
    client: FlaskClient, factory: Any, seeded: list[str]
) -> None:
    delivery_id = dead_delivery(factory, seeded[0], status_code=500, error="helpdesk answered 500")
    sign_in(client, ADMIN_API_KEY)
    assert "helpdesk answered 500" in _text(client.get("/console/dead-letters"))
    token = csrf_of(client, "/console/dead-letters")
    client.post(f"/console/dead-letters/{delivery_id}/retry", data={"csrf_token": token})
    with session_scope(factory) as session:
        assert session.get(Delivery, delivery_id).status == DeliveryStatus.PENDING
        assert session.scalars(select(OutboxMessage)).first() is not None
    client.post(
        "/console/kb/returns",
        data={
            "title": "Returns",
            "body": "Return within 30 days.",
            "tags": "returns, policy",
            "csrf_token": token,
        },
    )
    article = _text(client.get("/console/kb/returns"))
    assert "Return within 30 days." in article and "returns, policy" in article


def test_quality_and_models_pages_draw_their_charts(client: FlaskClient, seeded: list[str]) -> None:
    sign_in(client, API_KEY)
    quality = _text(client.get("/console/quality"))
    assert quality.count("<svg") == 3 and "accuracy per final intent" in quality
    assert _text(client.get("/console/models?version=v2")).count("<polyline") == 1


def test_a_console_error_page_carries_no_exception_text(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.gateway.console.views as views

    def broken(**_: Any) -> Any:
        raise RuntimeError("/srv/helploop/secret.py exploded")

    monkeypatch.setattr(views, "inbox_page", broken)
    sign_in(client, API_KEY)
    page = client.get("/console/tickets")
    assert page.status_code == 500 and "secret.py" not in _text(page) and "request" in _text(page)


def test_chinese_ui_text_is_complete_and_compiled() -> None:
    """Every message in the templates and views has a Chinese translation, and the committed .mo is the
    compiled .po (`make translations` rebuilds both)."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    used = {str(m[2]) for m in extract_from_dir(str(CONSOLE_DIR), method_map) if m[2]}
    folder = CONSOLE_DIR / "translations" / "zh" / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as handle:
        po = {str(m.id): m.string for m in read_po(handle) if m.id}
    with (folder / "messages.mo").open("rb") as handle:
        mo = {str(m.id): m.string for m in read_mo(handle) if m.id}
    assert used <= set(po), sorted(used - set(po))[:5]
    assert all(po[i] for i in used) and mo == po


def test_console_pages_spend_the_keys_rate_limit(
    sqlite_url: str, redis_url: str, tmp_path: Path, factory: Any
) -> None:
    client = _app(sqlite_url, redis_url, tmp_path, rate_limit_api="3/minute").test_client()
    sign_in(client, API_KEY)
    assert [client.get("/console/tickets").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert "rate limit exceeded" in _text(client.get("/console/review"))
