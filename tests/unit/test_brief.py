"""The escalation brief: facts as written, the customer's own asking sentences, never their personal data;
the models' part (the classifier's doubt, the gist of a draft the guardrails passed) marked as theirs."""

from __future__ import annotations

from shared.drafting.brief import Fact, classifier_doubt, customer_asks, draft_gist, extract_facts
from shared.drafting.models import Draft
from shared.tickets.models import TriageResult


def test_facts_are_quoted_as_written_in_english_and_chinese() -> None:
    text = "Order NW-48213 ($59.90) was due on March 3rd, 2026 and it has been two weeks. Call 07700 900431."
    assert extract_facts(text) == [
        Fact("reference", "NW-48213"),
        Fact("amount", "$59.90"),
        Fact("date", "March 3rd, 2026"),
        Fact("duration", "two weeks"),
    ]
    chinese = "订单NW-62236被扣了两次款，每次¥1432.50，3月5日下的单，已经两周了，电话13812345678。"
    assert extract_facts(chinese) == [
        Fact("reference", "NW-62236"),
        Fact("amount", "¥1432.50"),
        Fact("date", "3月5日"),
        Fact("duration", "两周"),
    ]


def test_what_the_customer_asks_is_their_own_sentences_without_personal_data() -> None:
    text = "Hi there. It cost $59.90 and never came. Can you refund me? Mail dana@example.com please."
    assert customer_asks(text) == ["Can you refund me?", "Mail [email] please."]
    assert customer_asks("My parcel is late.") == ["My parcel is late."]
    assert customer_asks("订单一直没到。请尽快给我退款，谢谢！") == ["请尽快给我退款，谢谢！"]


def _result(confidence: float, *, out_of_scope: bool = False) -> TriageResult:
    top = [["refund_request", confidence], ["where_is_my_order", 0.31], ["cancel_order", 0.05]]
    return TriageResult(label="refund_request", confidence=confidence, top_k=top, out_of_scope=out_of_scope)


def test_the_classifier_shows_what_it_hesitated_between_only_when_unsure() -> None:
    assert classifier_doubt(_result(0.93)) is None
    assert classifier_doubt(_result(0.52)) == (
        "unsure between refund_request 52%, where_is_my_order 31%, cancel_order 5%"
    )
    assert classifier_doubt(_result(0.93, out_of_scope=True)).startswith(
        "none of the known intents fits (out of scope); nearest: refund_request 93%"
    )


def _draft(text: str, source: str = "model", flags: list[str] | None = None) -> Draft:
    return Draft(text=text, source=source, flags=flags or [], citations=["refund-timelines"])


def test_the_generators_gist_comes_only_from_a_draft_the_guardrails_passed() -> None:
    reply = (
        "Hi Dana,\n\nI'm sorry the parcel for order NW-48213 is late. We have opened a trace with the "
        "carrier. You will hear from us by Friday.\n\nKind regards,\nThe team"
    )
    assert draft_gist(_draft(reply)) == (
        "model's answer: “I'm sorry the parcel for order NW-48213 is late. We have opened a trace with the "
        "carrier.”"
    )
    zh = "Dana您好，\n\n很抱歉您的包裹还没有送到。我们已经向快递公司发起调查。三天内回复您。\n\n祝好！"
    assert (
        draft_gist(_draft(zh)) == "model's answer: “很抱歉您的包裹还没有送到。我们已经向快递公司发起调查。”"
    )
    template = _draft("Hi Dana, ...", source="template", flags=["placeholder", "deflection"])
    assert draft_gist(template) == (
        "model's draft withheld (placeholder, deflection): the reply below is the template"
    )
    assert draft_gist(_draft("Hi Dana, ...", source="template")) is None  # drafts off / no model: nothing
    assert "flagged (pii_echo)" in draft_gist(_draft(reply, flags=["pii_echo"]))
    assert draft_gist(None) is None
