"""The demo shop's follow-up tickets: the answer depends on the customer's history (the follow-up names no
order; the reply names the order and the date we promised, which only the history holds)."""

from __future__ import annotations

from services.trainer.demo_followups import demo_followups, followup_examples, references
from shared.drafting.guardrails import Flag, check_draft
from shared.drafting.prompt import Passage

PASSAGES = [
    Passage(
        "late-or-lost-parcels",
        "Late or lost parcels — What happens next",
        "We open a trace with the carrier, which takes up to 5 working days.",
    )
]


def test_followups_need_the_history_to_be_answered() -> None:
    followups = demo_followups(retrieve=lambda _: PASSAGES, per_situation=2, seed=5, languages=("en", "zh"))
    assert len(followups) == 2 * 5 * 2
    assert {f.language for f in followups} == {"en", "zh"}
    for followup in followups:
        assert followup.order not in followup.ticket  # only the history names the order
        assert followup.order in followup.history[0].ticket and followup.promised in followup.history[0].reply
        assert references(followup.reply, followup) == {"order": True, "promise": True}
        assert references("Hi, sorry for the wait.", followup) == {"order": False, "promise": False}
        report = check_draft(
            followup.reply,
            ticket_text=followup.ticket,
            cited_articles=[p.cited_text() for p in followup.passages],
            language=followup.language,
            customer_name=followup.customer_name,
            history=[h.grounding_text() for h in followup.history],
        )
        assert Flag.UNGROUNDED not in report.flags, report.reasons
    chinese = next(f for f in followups if f.language == "zh")
    assert "订单" in chinese.reply and "月" in chinese.promised
    example = followup_examples(followups[:1])[0]
    assert followups[0].order in example.prompt() and "Earlier tickets from this customer" in example.prompt()


def test_followups_are_seeded() -> None:
    first = demo_followups(retrieve=lambda _: [], per_situation=1, seed=9, languages=("en",))
    again = demo_followups(retrieve=lambda _: [], per_situation=1, seed=9, languages=("en",))
    other = demo_followups(retrieve=lambda _: [], per_situation=1, seed=10, languages=("en",))
    assert first == again and first != other
    day, month = first[0].promised.split(" ")
    assert references(f"we said {month} {day}", first[0])["promise"]  # "November 28" counts too
