"""Attachments at intake, through the real gateway app (SQLite, Redis): inline (base64) and multipart files
are stored with the ticket and an extraction message is queued on `media`; caps answer 413/422 and store
nothing; each helpdesk's payload says where its attachments are, and those URLs are stored to be fetched."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from helploop.cli.client import ticket_payload
from services.gateway.app import create_app
from services.gateway.webhooks import payloads
from shared.celery_app import QUEUE_MEDIA, TASK_MEDIA_EXTRACT
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.media.models import Attachment
from shared.signing import SIGNATURE_HEADER, sign
from shared.tickets.models import Ticket
from tests.conftest import API_KEY, WEBHOOK_SECRET, settings_overrides
from tests.helpdesk_requests import fixture

AUTH = {"Authorization": f"Bearer {API_KEY}"}
MB = 1024 * 1024


@pytest.fixture
def gateway(sqlite_url: str, redis_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade_database(sqlite_url)
    overrides = settings_overrides(
        database_url=sqlite_url,
        redis_url=redis_url,
        model_registry_dir=tmp_path / "models",
        media_max_file_bytes=10 * MB,
        media_max_ticket_bytes=25 * MB,
        media_max_files=3,
    )
    app = create_app(overrides)
    factory = build_session_factory(build_engine(sqlite_url))
    yield app.test_client(), redis.Redis.from_url(redis_url), factory


def _post(client: FlaskClient, payload: dict[str, Any]):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    headers = {SIGNATURE_HEADER: sign(WEBHOOK_SECRET, body)}
    return client.post("/v1/webhooks/generic", data=body, content_type="application/json", headers=headers)


def _inline(name: str, content: bytes) -> dict[str, Any]:
    return {"filename": name, "content_base64": base64.b64encode(content).decode()}


def _media_messages(queue: redis.Redis) -> list[str]:
    messages = [json.loads(m) for m in queue.lrange(QUEUE_MEDIA, 0, -1)]
    assert all(m["headers"]["task"] == TASK_MEDIA_EXTRACT for m in messages)
    return [m["headers"]["argsrepr"].strip("[]()',") for m in messages]


def _ticket_count(factory: Any) -> int:
    with session_scope(factory) as session:
        return len(session.scalars(select(Ticket.id)).all())


def test_inline_attachments_are_stored_with_the_ticket_and_queued_for_the_media_worker(gateway: Any) -> None:
    client, queue, factory = gateway
    pdf_like = b"%PDF-1.4 not really"
    payload = ticket_payload(
        "see the screenshot",
        attachments=[_inline("error.txt", b"E-4012 card declined"), _inline("a.pdf", pdf_like)],
    )
    response = _post(client, payload)
    assert response.status_code == 202, response.get_json()
    ticket_id = response.get_json()["id"]
    assert _media_messages(queue) == [ticket_id]
    with session_scope(factory) as session:
        rows = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id)).all()
        stored = [(a.position, a.filename, a.status, a.size, a.content) for a in rows]
    assert stored == [
        (0, "error.txt", "pending", 20, b"E-4012 card declined"),
        (1, "a.pdf", "pending", 19, pdf_like),
    ]
    view = client.get(f"/v1/tickets/{ticket_id}", headers=AUTH).get_json()
    assert [a["status"] for a in view["attachments"]] == ["pending", "pending"]
    assert view["attachment_decision"] is None


def test_a_ticket_without_attachments_queues_no_media_work(gateway: Any) -> None:
    client, queue, _ = gateway
    assert _post(client, ticket_payload("where is my parcel")).status_code == 202
    assert _media_messages(queue) == []


def test_an_eleven_megabyte_file_breaks_the_ten_megabyte_cap_and_nothing_is_stored(gateway: Any) -> None:
    client, queue, factory = gateway
    big = _inline("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * MB))
    response = _post(client, ticket_payload("big one", attachments=[big]))
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"] == "attachment_too_large"
    assert "at most 10485760 per file" in response.get_json()["message"]
    exactly = _inline("ok.bin", b"\0" * (10 * MB))
    assert _post(client, ticket_payload("fits", attachments=[exactly])).status_code == 202
    assert _ticket_count(factory) == 1 and len(_media_messages(queue)) == 1


def test_too_many_files_and_broken_base64_are_refused_with_a_clear_error(gateway: Any) -> None:
    client, _, factory = gateway
    four = [_inline(f"{i}.txt", b"x") for i in range(4)]
    response = _post(client, ticket_payload("many", attachments=four))
    assert response.status_code == 422 and response.get_json()["error"] == "too_many_attachments"
    broken = ticket_payload("broken", attachments=[{"filename": "a.png", "content_base64": "%%%not base64"}])
    response = _post(client, broken)
    assert response.status_code == 422
    assert "content_base64 is not valid base64" in json.dumps(response.get_json())
    both = ticket_payload("both", attachments=[{"url": "https://x.example/a", "content_base64": "eA=="}])
    assert _post(client, both).status_code == 422
    assert _ticket_count(factory) == 0


def test_multipart_upload_through_the_api(gateway: Any) -> None:
    client, queue, factory = gateway
    envelope = ticket_payload("the invoice is attached")
    data = {
        "envelope": json.dumps(envelope),
        "attachment": [(io.BytesIO(b"Invoice ORD-48213"), "invoice.txt"), (io.BytesIO(b"GIF89a.."), "x.gif")],
    }
    response = client.post("/v1/tickets", data=data, headers=AUTH, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    ticket_id = response.get_json()["id"]
    assert _media_messages(queue) == [ticket_id]
    with session_scope(factory) as session:
        names = [a.filename for a in session.get(Ticket, ticket_id).attachments]
    assert names == ["invoice.txt", "x.gif"]
    missing = client.post("/v1/tickets", data={"attachment": [(io.BytesIO(b"x"), "a.txt")]}, headers=AUTH)
    assert missing.status_code == 422 and "envelope" in missing.get_json()["message"]


def _zendesk() -> dict[str, Any]:
    document = fixture("zendesk_ticket_created")
    document["ticket"]["attachments"] = [
        {
            "file_name": "screen.png",
            "content_type": "image/png",
            "content_url": "https://acme.zendesk.com/a/1",
        },
        {"file_name": "evil", "content_url": "file:///etc/passwd"},  # not http(s): skipped
    ]
    return document


def test_each_helpdesk_payload_names_its_attachments_urls() -> None:
    zendesk = payloads.parse_zendesk(_zendesk())
    assert [(a.filename, a.url) for a in zendesk.ticket.attachments] == [
        ("screen.png", "https://acme.zendesk.com/a/1")
    ]
    zammad_doc = fixture("zammad_ticket_created")
    zammad_doc["article"]["attachments"] = [
        {"id": 77, "filename": "voicemail.wav", "preferences": {"Content-Type": "audio/wav"}}
    ]
    zammad = payloads.parse_zammad(zammad_doc, base_url="https://desk.acme.example/")
    ticket_id, article_id = zammad_doc["ticket"]["id"], zammad_doc["article"]["id"]
    expected = f"https://desk.acme.example/api/v1/ticket_attachment/{ticket_id}/{article_id}/77"
    assert [(a.filename, a.content_type, a.url) for a in zammad.ticket.attachments] == [
        ("voicemail.wav", "audio/wav", expected)
    ]
    freshdesk_doc = fixture("freshdesk_ticket_created")
    freshdesk_doc["freshdesk_webhook"]["attachments"] = [
        {"name": "invoice.pdf", "content_type": "application/pdf", "attachment_url": "https://s3.example/inv"}
    ]
    freshdesk = payloads.parse_freshdesk(freshdesk_doc)
    assert [a.url for a in freshdesk.ticket.attachments] == ["https://s3.example/inv"]
    jira_doc = fixture("jira_issue_created")
    jira_doc["issue"]["fields"]["attachment"] = [
        {"filename": "log.txt", "mimeType": "text/plain", "content": "https://acme.atlassian.net/att/1"}
    ]
    jira = payloads.parse_jira(jira_doc)
    assert [a.filename for a in jira.ticket.attachments] == ["log.txt"]


def test_send_test_ticket_attaches_files_and_its_summary_shows_what_was_read(tmp_path: Path) -> None:
    from helploop.cli.client import attachment_entries, summary
    from helploop.cli.main import build_parser

    shot = tmp_path / "screenshot.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    entries = attachment_entries([shot])
    assert entries == [
        {"filename": "screenshot.png", "content_base64": base64.b64encode(shot.read_bytes()).decode()}
    ]
    args = build_parser().parse_args(
        ["send-test-ticket", "it says this", "--attach", str(shot), "--attach", "b.wav"]
    )
    assert args.attach == [shot, Path("b.wav")]
    view = {
        "attachments": [
            {
                "filename": "screenshot.png",
                "status": "extracted",
                "kind": "image/png",
                "engine": "rapidocr-ppocrv6",
                "confidence": 0.97,
                "in_classification": True,
                "text": "Payment failed\nError code E-4012",
            },
            {
                "filename": "b.wav",
                "status": "refused",
                "kind": "application/octet-stream",
                "error": "unsupported_type",
                "error_detail": "application/octet-stream attachments are not read",
                "in_classification": False,
            },
        ],
        "attachment_decision": "changed",
        "classification": {"label": "payment_failed", "confidence": 0.91, "language": "en"},
    }
    text = summary(view)
    assert (
        "attachment screenshot.png: extracted (image/png, rapidocr-ppocrv6, confidence 0.97; "
        "in the classification: true)" in text
    )
    assert "  | Error code E-4012" in text and "b.wav: refused" in text and "unsupported_type" in text
    assert "attachments' effect on the decision: changed" in text and "intent: payment_failed" in text
