"""The generator's nightly dataset: every resolution with a reply reaches it, PII-redacted and
deduplicated, the newest slice held out; and the gate that decides whether a candidate replaces the
active generator."""

from __future__ import annotations

from datetime import timedelta

from services.trainer.generation.data import ReplyExample
from services.trainer.retrain.generator import (
    MIN_REPLIES,
    build_generator_data,
    judge_generator,
    load_replies,
)
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.db.base import utcnow
from shared.drafting.prompt import Passage
from shared.integrations.models import Resolution
from tests.test_storage import stored_ticket

PASSAGE = Passage("late-or-lost-parcels", "Late parcels", "A parcel is late 7 working days after dispatch.")


def _resolve(factory, n: int, reply: str | None, *, days_ago: float) -> None:  # type: ignore[no-untyped-def]
    body = f"Parcel {n} has not arrived, call me on 07700 900431"
    ticket_id = stored_ticket(factory, body, f"T-{n}")
    with session_scope(factory) as session:
        session.add(
            Resolution(
                ticket_id=ticket_id,
                source="api",
                final_labels={"label": "where_is_my_order"},
                text=body,
                reply=reply,
                resolved_at=utcnow() - timedelta(days=days_ago),
            )
        )


def test_replies_reach_the_dataset_redacted_deduplicated_and_the_newest_are_held_out(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    for n in range(MIN_REPLIES + 9):
        reply = f"Hi, parcel {n} is being traced by the carrier now. We will write to dana@example.com or "
        reply += "call 07700 900431." + (" Or call {{Customer Support Phone Number}}." if n == 5 else "")
        reply += " See {{Website Name}}." if n == 35 else ""
        reply = "Please contact our customer support team." if n == 6 else reply  # nothing left to learn
        _resolve(factory, n, reply, days_ago=100 - n)
    _resolve(factory, 998, None, days_ago=1)  # no reply: nothing to learn
    _resolve(factory, 999, "   ", days_ago=1)
    replies = load_replies(factory, limit=10_000)
    assert len(replies) == MIN_REPLIES + 9 and all(r.intent == "where_is_my_order" for r in replies)
    assert all(
        "dana@example.com" not in r.reply + r.ticket and "900431" not in r.reply + r.ticket for r in replies
    )
    assert "[email]" in replies[0].reply and "parcel 0 " in replies[0].reply  # oldest first
    # the same customer's earlier tickets and our replies, redacted, as the drafting prompt shows them
    assert replies[0].history == [] and "Parcel 0 " in replies[1].history[0].ticket
    assert "parcel 0 " in (replies[1].history[0].reply or "")
    assert all("900431" not in h.grounding_text() for r in replies for h in r.history)
    assert "Earlier tickets from this customer" in replies[1].prompt()
    base = [ReplyExample("Where is parcel 38?", "It is on its way.", "where_is_my_order")]
    data = build_generator_data(
        session_factory=factory, retrieve=lambda _: [PASSAGE], base=base, recent_fraction=0.2, limit=10_000
    )
    assert data is not None
    assert data.stats == {"replies": 39, "team_train": 28, "team_unlearnable": 1, "base": 1, "holdout": 10}
    assert [e.reply.split()[2] for e in data.holdout] == [str(n) for n in range(29, 39)]  # the newest
    # training replies lose what the guardrails stop (a template slot, a redaction mark: a draft must
    # write neither); the hold-out keeps what the agent sent
    learned = {e.reply.split()[2]: e.reply for e in data.train[1:]}
    assert "6" not in learned and learned["5"] == "Hi, parcel 5 is being traced by the carrier now."
    assert not any("[" in reply or "{" in reply for reply in learned.values())
    assert data.holdout[35 - 29].reply.endswith("call [phone]. See {{Website Name}}.")
    assert all(e.passages == [PASSAGE] for e in data.train[1:] + data.holdout)
    assert not {e.ticket for e in data.holdout} & {e.ticket for e in data.train}


def test_too_few_replies_build_no_dataset(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    _resolve(factory, 1, "Hi, it is on its way.", days_ago=1)
    assert (
        build_generator_data(
            session_factory=factory, retrieve=lambda _: [], base=[], recent_fraction=0.2, limit=99
        )
        is None
    )


def test_the_gate_wants_the_candidate_at_least_as_good_as_the_active_generator_and_retrieval() -> None:
    active = {"chrf": 50.0, "rouge_l": 40.0, "guardrail_flag_rate": 0.05}
    retrieval = {"chrf": 45.0, "rouge_l": 38.0, "guardrail_flag_rate": 0.3}
    assert (
        judge_generator({"chrf": 55.0, "rouge_l": 44.0, "guardrail_flag_rate": 0.05}, active, retrieval) == []
    )
    worse = judge_generator({"chrf": 49.0, "rouge_l": 44.0, "guardrail_flag_rate": 0.1}, active, retrieval)
    assert len(worse) == 2 and "chrf 49.0 below" in worse[0] and "flag rate" in worse[1]
    assert judge_generator(
        {"chrf": 44.0, "rouge_l": 30.0, "guardrail_flag_rate": 0.0}, active | {"chrf": 40.0}, retrieval
    )


def test_the_gate_judges_what_tickets_would_get() -> None:
    from services.trainer.generation.evaluate import SystemOutput, as_served, regreeted
    from services.trainer.retrain.generator import gate_rows

    example = ReplyExample(
        "Where is my parcel?", "Hi Ana, ...", "where_is_my_order", [PASSAGE], customer_name="Ana Lee"
    )
    assert regreeted("Hi Tom,\n\nWe traced it.", "Ana Lee") == "Hi Ana,\n\nWe traced it."
    assert regreeted("王芳您好，\n\n已查询。", "李雷") == "李雷您好，\n\n已查询。"
    assert regreeted("We traced it.", "Ana Lee") == "We traced it."  # no greeting by name: unchanged
    clean = "Hi Ana,\n\nA parcel is late 7 working days after dispatch."
    placeholder = "Hi Ana,\n\nPlease contact [Your Company Name] about it."
    served = as_served(SystemOutput([clean, placeholder], 0, 0.0), [example, example]).texts
    assert served[0] == clean and served[1] != placeholder and "[Your Company Name]" not in served[1]
    row = {"chrf": 60.0, "rouge_l": 50.0, "guardrail_flag_rate": 0.0}
    systems = [
        {"system": "nearest-neighbour retrieval", **row, "chrf": 80.0},
        {"system": "nearest-neighbour retrieval, as served", **row, "chrf": 55.0},
        {"system": "candidate", **row, "guardrail_flag_rate": 0.2},
        {
            "system": "candidate, flagged drafts sampled again (up to 2×, as served)",
            **row,
            "guardrail_flag_rate": 0.1,
        },
        {"system": "candidate, as served", **row, "chrf": 62.0},
        {"system": "active", **row},
        {"system": "active, as served", **row, "chrf": 58.0},
    ]
    candidate, active, retrieval = gate_rows(systems)
    assert (candidate["chrf"], candidate["guardrail_flag_rate"]) == (
        62.0,
        0.1,
    )  # served chrF, resampled flags
    assert (active["chrf"], active["guardrail_flag_rate"]) == (58.0, 0.0)  # no resampled row: greedy flags
    assert retrieval["chrf"] == 55.0
    assert judge_generator(candidate, active, retrieval) == [
        "guardrail flag rate 10.0% above the active generator's 0.0%"
    ]
