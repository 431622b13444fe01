"""A ticket's attachments read by the worker's plain functions against a real database, real HTTP (a local
server standing in for a helpdesk's file storage) and the real classifier: text joins triage, a decision
that changes is re-classified and one that does not is left alone, refusals and broken files are recorded
and never hold the ticket up, and the text shown is redacted like a body."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.tickets.service import get_ticket_view, ingest_ticket
from services.inference.attachments import MediaContext, MediaOutcome, fail_pending, read_attachments
from services.inference.model_holder import ActiveModel
from services.inference.triage import Outcome, TriageContext, classify_ticket
from services.inference.weighing import attachment_wait_s
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.media.fetch import FetchPolicy
from shared.media.models import Attachment
from shared.media.reader import EngineSlot, MediaReader
from shared.media.sources import FetchAccess
from shared.media.store import MediaStore
from shared.registry import Registry
from shared.tickets.models import Ticket, TriageResult
from shared.tickets.schemas import TicketIn
from tests.unit.test_media_pdf import pdf

MB = 1024 * 1024
FILES = {
    "/refund.txt": b"I want a refund for order ORD-48213, the blender arrived broken; I want my money back.",
    "/big.bin": b"\0" * (11 * MB),
}


class _FileServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/elsewhere":  # a redirect to a host the policy does not name
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_port}/refund.txt")
            self.end_headers()
            return
        body = FILES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def file_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FileServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def factory(database_url: str) -> sessionmaker[Session]:
    """Storage of the bytes and the outcomes: on SQLite and PostgreSQL."""
    upgrade_database(database_url)
    return build_session_factory(build_engine(database_url))


@pytest.fixture
def sqlite_factory(sqlite_url: str) -> sessionmaker[Session]:
    """The weighing logic above the storage: SQLite is enough."""
    upgrade_database(sqlite_url)
    return build_session_factory(build_engine(sqlite_url))


def media_context(
    factory: sessionmaker[Session], tmp_path: Path, *, max_ticket_bytes: int = 25 * MB
) -> MediaContext:
    """Downloads from 127.0.0.1 only (private addresses allowed: the server is local), 10 MB per file."""
    policy = FetchPolicy(frozenset({"127.0.0.1"}), max_bytes=10 * MB, allow_private=True)
    reader = MediaReader(EngineSlot("OCR", lambda: None), EngineSlot("speech recognition", lambda: None))
    return MediaContext(
        session_factory=factory,
        store=MediaStore(tmp_path / "media"),
        reader=reader,
        access_for_source=lambda _source: FetchAccess(policy),
        max_ticket_bytes=max_ticket_bytes,
    )


def ticket_with(
    factory: sessionmaker[Session], body: str, attachments: list[dict[str, Any]], event: str
) -> str:
    ticket = TicketIn.model_validate(
        {
            "external_id": event,
            "subject": "",
            "body": body,
            "customer": {"id": "c1", "email": "a@example.com", "name": "A"},
            "created_at": "2026-12-01T10:00:00+00:00",
            "attachments": attachments,
        }
    )
    accepted = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="generic", event_id=event, ticket=ticket
    )
    return accepted.ticket_id


def inline(name: str, content: bytes) -> dict[str, Any]:
    return {"filename": name, "content_base64": base64.b64encode(content).decode()}


def statuses(factory: sessionmaker[Session], ticket_id: str) -> list[tuple[str, str | None]]:
    with session_scope(factory) as session:
        return [(a.status, a.error) for a in session.get(Ticket, ticket_id).attachments]


def test_downloads_obey_the_policy_and_every_outcome_is_recorded(
    factory: sessionmaker[Session], tmp_path: Path, file_server: str
) -> None:
    broken_pdf = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"
    )
    ticket_id = ticket_with(
        factory,
        "Please see the attached files.",
        [
            {"filename": "refund.txt", "url": f"{file_server}/refund.txt"},
            {"filename": "moved.txt", "url": f"{file_server}/elsewhere"},  # → localhost: not allowed
            {"filename": "big.bin", "url": f"{file_server}/big.bin"},  # 11 MB against 10 MB
            {
                "filename": "invoice.pdf",
                "content_base64": base64.b64encode(pdf([b"Invoice INV-2231 total 49.00"])).decode(),
            },
            {"filename": "broken.pdf", "content_base64": base64.b64encode(broken_pdf).decode()},
            {"filename": "photo.png", "content_base64": base64.b64encode(b"\x89PNG\r\n\x1a\nxx").decode()},
        ],
        "policy",
    )
    context = media_context(factory, tmp_path)
    assert read_attachments(ticket_id=ticket_id, context=context) == MediaOutcome.READ
    assert statuses(factory, ticket_id) == [
        ("extracted", None),
        ("refused", "host_not_allowed"),
        ("refused", "too_large"),
        ("extracted", None),
        ("refused", "unreadable"),
        ("refused", "engine_off"),  # OCR is off on this reader: recorded, not retried
    ]
    with session_scope(factory) as session:
        ticket = session.get(Ticket, ticket_id)
        assert "ORD-48213" in ticket.text and "INV-2231" in ticket.text
        assert (
            "[Attachment refund.txt (text)]" in ticket.text
            and "[Attachment invoice.pdf (PDF)]" in ticket.text
        )
        assert all(a.content is None for a in ticket.attachments)  # the bytes left the row for the store
        stored = [a.sha256 for a in ticket.attachments if a.status == "extracted"]
    assert all(context.store.path(sha).is_file() for sha in stored)
    assert read_attachments(ticket_id=ticket_id, context=context) == MediaOutcome.NOTHING


def test_the_ticket_budget_and_network_errors(
    factory: sessionmaker[Session], tmp_path: Path, file_server: str
) -> None:
    ticket_id = ticket_with(
        factory,
        "two files",
        [
            inline("a.txt", b"a" * 600),
            inline("b.txt", b"b" * 600),
            {"filename": "gone", "url": "http://127.0.0.1:9/x"},
        ],
        "budget",
    )
    context = media_context(factory, tmp_path, max_ticket_bytes=1000)
    with pytest.raises(requests.ConnectionError):  # the task retries a network error
        read_attachments(ticket_id=ticket_id, context=context)
    assert statuses(factory, ticket_id)[:2] == [("extracted", None), ("refused", "too_large")]
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            read_attachments(ticket_id=ticket_id, context=context)
    read_attachments(ticket_id=ticket_id, context=context)  # three runs died: failed, not tried again
    assert statuses(factory, ticket_id)[2] == ("failed", "gave_up")
    other = ticket_with(factory, "x", [{"filename": "gone", "url": "http://127.0.0.1:9/y"}], "giveup")
    assert (
        fail_pending(
            ticket_id=other,
            session_factory=factory,
            reason="ConnectionError: http://127.0.0.1:9/y?sig=secret",
        )
        == 1
    )
    with session_scope(factory) as session:
        failed = session.get(Ticket, other).attachments[0]
        assert (failed.status, failed.error) == ("failed", "download_failed")
        assert "sig=secret" not in failed.error_detail  # the URL (and its token) is not kept


@pytest.fixture
def triage(sqlite_factory: sessionmaker[Session], trained_registry: Registry) -> TriageContext:
    return TriageContext(session_factory=sqlite_factory, model=ActiveModel(trained_registry), top_k=3)


def _results(sqlite_factory: sessionmaker[Session], ticket_id: str) -> list[tuple[str, int]]:
    with session_scope(sqlite_factory) as session:
        rows = session.query(TriageResult).filter_by(ticket_id=ticket_id).order_by(TriageResult.id).all()
        return [(r.label, r.attachments_used) for r in rows]


def test_attachments_read_after_triage_change_the_decision_only_when_they_differ(
    sqlite_factory: sessionmaker[Session], tmp_path: Path, triage: TriageContext
) -> None:
    vague = "Hello, please have a look at the attached file and get back to me."
    evidence = FILES["/refund.txt"].decode()
    changed = ticket_with(sqlite_factory, vague, [inline("note.txt", evidence.encode())], "changed")
    assert attachment_wait_s(sqlite_factory, changed, wait_s=120) > 100  # the draft waits for the attachment
    assert classify_ticket(ticket_id=changed, context=triage) == Outcome.CLASSIFIED  # on the body at once
    body_label = _results(sqlite_factory, changed)[0][0]
    read_attachments(ticket_id=changed, context=media_context(sqlite_factory, tmp_path))
    assert attachment_wait_s(sqlite_factory, changed, wait_s=120) == 0
    with session_scope(sqlite_factory) as session:
        with_text = session.get(Ticket, changed).text
    expected = triage.model.get().predict([with_text], top_k=1)[0].primary.label
    assert expected != body_label, "the evidence must move this model's decision"
    assert classify_ticket(ticket_id=changed, context=triage) == Outcome.RECLASSIFIED
    assert _results(sqlite_factory, changed) == [(body_label, 0), (expected, 1)]
    assert classify_ticket(ticket_id=changed, context=triage) == Outcome.ALREADY_DONE  # weighed once
    view = get_ticket_view(session_factory=sqlite_factory, ticket_id=changed)
    assert view.classification.label == expected and view.classification.attachments_used == 1
    assert view.attachment_decision == "changed" and view.attachments[0].in_classification

    same = ticket_with(
        sqlite_factory,
        evidence,
        [inline("copy.txt", b"Order ORD-48213: the blender arrived broken.")],
        "same",
    )
    classify_ticket(ticket_id=same, context=triage)
    read_attachments(ticket_id=same, context=media_context(sqlite_factory, tmp_path))
    label = _results(sqlite_factory, same)[0][0]
    with session_scope(sqlite_factory) as session:
        again = triage.model.get().predict([session.get(Ticket, same).text], top_k=1)[0].primary.label
    assert again == label
    assert classify_ticket(ticket_id=same, context=triage) == Outcome.ALREADY_DONE
    assert len(_results(sqlite_factory, same)) == 1
    view = get_ticket_view(session_factory=sqlite_factory, ticket_id=same)
    assert view.attachment_decision == "unchanged" and not view.attachments[0].in_classification


def test_attachments_read_before_triage_join_the_first_classification(
    sqlite_factory: sessionmaker[Session], tmp_path: Path, triage: TriageContext
) -> None:
    ticket_id = ticket_with(
        sqlite_factory, "see attached", [inline("note.txt", FILES["/refund.txt"])], "before"
    )
    read_attachments(ticket_id=ticket_id, context=media_context(sqlite_factory, tmp_path))
    assert classify_ticket(ticket_id=ticket_id, context=triage) == Outcome.CLASSIFIED
    assert [used for _, used in _results(sqlite_factory, ticket_id)] == [1]
    assert (
        get_ticket_view(session_factory=sqlite_factory, ticket_id=ticket_id).attachments[0].in_classification
    )


def test_attachment_text_is_redacted_in_the_ticket_view_like_a_body(
    sqlite_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    secret = b"Call me on +44 7700 900123 or write to jane.roe@example.org, card 4111 1111 1111 1111."
    ticket_id = ticket_with(sqlite_factory, "see attached", [inline("contact.txt", secret)], "pii")
    read_attachments(ticket_id=ticket_id, context=media_context(sqlite_factory, tmp_path))
    shown = get_ticket_view(session_factory=sqlite_factory, ticket_id=ticket_id).attachments[0].text or ""
    for leaked in ("7700 900123", "jane.roe@example.org", "4111 1111 1111 1111"):
        assert leaked not in shown, shown
    assert "Call me on" in shown


def test_each_worker_purges_files_past_retention_at_most_hourly(
    sqlite_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    context = media_context(sqlite_factory, tmp_path)
    old = [context.store.put(hashlib.sha256(c).hexdigest(), c) for c in (b"old one", b"old two")]
    month_ago = time.time() - 40 * 86400
    os.utime(old[0], (month_ago, month_ago))
    read_attachments(
        ticket_id=ticket_with(sqlite_factory, "x", [inline("a.txt", b"new")], "p1"), context=context
    )
    assert not old[0].exists() and old[1].exists()
    os.utime(old[1], (month_ago, month_ago))
    read_attachments(
        ticket_id=ticket_with(sqlite_factory, "y", [inline("b.txt", b"newer")], "p2"), context=context
    )
    assert old[1].exists()  # not again within the hour
    context.last_purge -= 3601
    read_attachments(
        ticket_id=ticket_with(sqlite_factory, "z", [inline("c.txt", b"newest")], "p3"), context=context
    )
    assert not old[1].exists()


def test_an_attachment_left_out_earlier_is_used_when_a_later_one_changes_the_decision(
    sqlite_factory: sessionmaker[Session], tmp_path: Path, triage: TriageContext
) -> None:
    praise = "Great service, thank you so much for the quick help!"
    thanks = inline("thanks.txt", b"Thanks again, your team was wonderful and really helpful.")
    ticket_id = ticket_with(sqlite_factory, praise, [thanks], "late")
    classify_ticket(ticket_id=ticket_id, context=triage)
    context = media_context(sqlite_factory, tmp_path)
    read_attachments(ticket_id=ticket_id, context=context)
    with session_scope(sqlite_factory) as session:
        text = session.get(Ticket, ticket_id).text
    assert (
        triage.model.get().predict([text], top_k=1)[0].primary.label
        == _results(sqlite_factory, ticket_id)[0][0]
    )
    assert classify_ticket(ticket_id=ticket_id, context=triage) == Outcome.ALREADY_DONE
    with session_scope(sqlite_factory) as session:  # a second file arrives later (another article)
        session.add(
            Attachment(
                ticket_id=ticket_id,
                position=1,
                filename="refund.txt",
                content=FILES["/refund.txt"],
                status="pending",
            )
        )
    read_attachments(ticket_id=ticket_id, context=context)
    assert classify_ticket(ticket_id=ticket_id, context=triage) == Outcome.RECLASSIFIED
    view = get_ticket_view(session_factory=sqlite_factory, ticket_id=ticket_id)
    assert [a.in_classification for a in view.attachments] == [True, True]
    assert view.classification.attachments_used == 2
