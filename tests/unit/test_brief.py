"""The escalation brief's deterministic parts: facts as written, the customer's own asking sentences,
never their personal data."""

from __future__ import annotations

from shared.drafting.brief import Fact, customer_asks, extract_facts


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
