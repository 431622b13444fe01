"""Draft adoption: the agent's final reply against the draft, recorded with the resolution through the
real gateway (SQLite, Redis) and reported by `GET /v1/drafts/adoption`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sacrebleu.metrics import CHRF

from services.gateway.app import create_app
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.drafting.adoption import DISCARDED, EDITED, SENT_AS_IS, chrf, compare, edit_distance
from shared.drafting.models import Draft, DraftAdoption
from shared.metrics import DRAFT_ADOPTIONS
from shared.tickets.models import TriageResult
from tests.conftest import API_KEY, settings_overrides
from tests.test_storage import stored_ticket

AUTH = {"Authorization": f"Bearer {API_KEY}"}
DRAFT = (
    "Hi Sam,\n\nI'm sorry your parcel has not reached you yet. A Standard parcel counts as late when it has "
    "not arrived 7 working days after dispatch. We open a trace with the carrier, which takes up to 5 "
    "working days.\n\nKind regards,\nThe Northwind Goods team"
)


def test_chrf_is_sacrebleus_and_the_classes_follow_the_documented_thresholds() -> None:
    for hypothesis, reference in [
        (DRAFT, DRAFT.replace("Sam", "Samuel")),
        ("我的包裹还没到", "您的包裹还没有到"),
    ]:
        assert chrf(hypothesis, reference) == pytest.approx(
            CHRF().sentence_score(hypothesis, [reference]).score
        )
    assert compare(DRAFT, DRAFT).outcome == SENT_AS_IS and compare(DRAFT, DRAFT).edit_distance == 0
    assert compare(DRAFT, "  " + DRAFT.upper().replace("\n", " ")).outcome == SENT_AS_IS  # spacing, case
    edited = DRAFT.replace("We open a trace", "I have just opened a trace") + " Sorry again!"
    assert compare(DRAFT, edited).outcome == EDITED
    assert compare(DRAFT, "Refunded in full today, sorry for the trouble. Priya").outcome == DISCARDED
    assert edit_distance("a b c d", "a b x d") == 0.25 and edit_distance("退款", "退货") == 0.5


@pytest.fixture
def gateway(sqlite_url: str, redis_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade_database(sqlite_url)
    app = create_app(
        settings_overrides(database_url=sqlite_url, redis_url=redis_url, model_registry_dir=tmp_path / "m")
    )
    return app.test_client(), build_session_factory(build_engine(sqlite_url))


def _drafted_ticket(factory, external_id: str, *, intent: str, text: str, source: str = "model") -> str:  # type: ignore[no-untyped-def]
    ticket_id = stored_ticket(
        factory, "My parcel has not arrived, contact me at sam.lee@example.com", external_id
    )
    with session_scope(factory) as session:
        session.add(
            TriageResult(
                ticket_id=ticket_id,
                model_version="m1",
                label=intent,
                confidence=0.9,
                top_k=[],
                inference_ms=1.0,
                language="en",
            )
        )
        session.add(
            Draft(
                ticket_id=ticket_id,
                generator_version="g-ft-1",
                source=source,
                text=text,
                citations=[],
                flags=[],
                reasons=[],
                intent=intent,
                prompt_tokens=10,
                tokens=20,
                latency_ms=5.0,
            )
        )
    return ticket_id


def test_resolutions_record_adoption_and_the_report_breaks_it_down(gateway) -> None:  # type: ignore[no-untyped-def]
    client, factory = gateway
    before = DRAFT_ADOPTIONS.labels(SENT_AS_IS, "model")._value.get()
    with_email = DRAFT + "\nWe will write to sam.lee@example.com."
    kept = _drafted_ticket(factory, "Z-1", intent="where_is_my_order", text=with_email)
    edited = _drafted_ticket(factory, "Z-2", intent="where_is_my_order", text=DRAFT)
    dropped = _drafted_ticket(factory, "Z-3", intent="refund_request", text=DRAFT, source="template")
    no_reply = _drafted_ticket(factory, "Z-4", intent="refund_request", text=DRAFT)
    replies = {
        kept: with_email,  # identical, personal data included: both sides are redacted alike
        edited: DRAFT.replace("We open a trace", "I have opened a trace") + "\nPS: sorry for the wait!",
        dropped: "We refunded you. Priya",
        no_reply: None,
    }
    for ticket_id, reply in replies.items():
        body = {"intent": "where_is_my_order", **({"reply": reply} if reply else {})}
        response = client.post(f"/v1/tickets/{ticket_id}/resolution", json=body, headers=AUTH)
        assert response.status_code == 200, response.get_json()
    with session_scope(factory) as session:
        outcomes = {row.ticket_id: row.outcome for row in session.query(DraftAdoption)}
    assert outcomes == {kept: SENT_AS_IS, edited: EDITED, dropped: DISCARDED}
    assert DRAFT_ADOPTIONS.labels(SENT_AS_IS, "model")._value.get() == before + 1
    report = client.get("/v1/drafts/adoption?window_days=7", headers=AUTH).get_json()
    assert report["resolved_with_draft"] == 3 and report["sent_as_is"] == report["edited"] == 1
    assert report["adoption_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["per_intent"]["where_is_my_order"]["adoption_rate"] == 1.0
    assert report["per_intent"]["refund_request"]["discarded"] == 1
    assert report["per_generator_version"]["g-ft-1"]["resolved_with_draft"] == 3
    assert report["per_language"]["en"]["resolved_with_draft"] == 3
    assert report["per_source"]["template"]["discarded"] == 1
    # re-resolving updates the ticket's one row
    client.post(f"/v1/tickets/{dropped}/resolution", json={"reply": DRAFT}, headers=AUTH)
    again = client.get("/v1/drafts/adoption", headers=AUTH).get_json()
    assert again["resolved_with_draft"] == 3 and again["discarded"] == 0 and again["window_days"] == 30
    for bad in ("0", "-1", "400", "nan", "soon"):
        response = client.get(f"/v1/drafts/adoption?window_days={bad}", headers=AUTH)
        assert response.status_code == 422 and response.get_json()["error"] == "invalid_parameter"
    assert client.get("/v1/drafts/adoption").status_code == 401
