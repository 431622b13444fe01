"""The identifier a reply should repeat back (error code, order, invoice; where it came from), the demo
shop's replies that teach the generator to repeat it, and the evaluation that counts how often it does."""

from __future__ import annotations

import random
from datetime import date

import pytest

from services.trainer.demo_attachments import ReadText, attachment_twin, with_attachment_twins
from services.trainer.demo_data import DemoTicket, generate_tickets
from services.trainer.demo_replies import acknowledgement, demo_resolutions
from services.trainer.generation.data import ReplyExample
from services.trainer.generation.evaluate import reference_citation
from shared.drafting.prompt import EarlierTicket
from shared.drafting.references import (
    Reference,
    cites,
    followup_reference,
    repeats_reference,
    salient_reference,
)
from shared.media.text import with_attachments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My payment keeps failing with error code PAY-245. Order NW-96710.",
            Reference("error", "PAY-245", "message"),
        ),
        ("付款时报错665，试了三次都不行。", Reference("error", "665", "message")),
        ("Where is order NW-12345? Tracking 1Z99999AA10123456784", Reference("order", "NW-12345", "message")),
        ("hi, my order number is 48213 and it never came", Reference("order", "48213", "message")),
        ("我的订单号是48213，还没到。", Reference("order", "48213", "message")),
        ("Hello, this is Sam. My order 48,213 never arrived.", Reference("order", "48,213", "message")),
        ("Please send invoice INV-2024-5521 again", Reference("invoice", "INV-2024-5521", "message")),
        ("Promo code SAVE20 does not work, error or not", None),
        ("there was an error 3 times", None),
    ],
)
def test_the_salient_reference_prefers_an_error_code_then_an_order_then_an_invoice(
    text: str, expected: Reference | None
) -> None:
    assert salient_reference(text) == expected


def test_a_reference_in_an_attachment_names_the_attachment_kind() -> None:
    text = with_attachments(
        "it says this when I pay",
        [
            ReadText("notes.txt", "text/plain", "nothing useful here"),
            ReadText("screen.png", "image/png", "Payment failed\nError code E-4012: card declined"),
        ],
    )
    assert salient_reference(text) == Reference("error", "E-4012", "image")
    voicemail = with_attachments(
        "See attached.", [ReadText("v.wav", "audio/wav", "my order number is 48213")]
    )
    assert salient_reference(voicemail) == Reference("order", "48213", "voice message")
    assert cites("I've noted your order 48213.", salient_reference(voicemail))
    assert not cites("I've noted your order.", salient_reference(voicemail))
    grouped = Reference("order", "48,213", "voice message")  # as Whisper writes a spoken number
    assert cites("Order 48213 is on its way.", grouped) and cites("order 48,213", grouped)
    assert not cites("Order 48214 is on its way.", grouped)


def test_a_follow_up_without_an_id_repeats_the_earlier_tickets_if_recent_and_of_its_intent() -> None:
    earlier = EarlierTicket(
        "2026-11-02",
        "where_is_my_order",
        "My order NW-11111 never came.",
        "I've opened a trace for order NW-22222; we will e-mail you by 9 November.",
    )
    older = EarlierTicket("2026-10-01", "refund_request", "Refund for NW-33333 please.", None)
    assert followup_reference([earlier, older]) == Reference("order", "NW-22222", "history")  # our reply's
    no_reply = EarlierTicket("2026-11-02", "where_is_my_order", "订单号是48213，还没到。", None)
    assert followup_reference([no_reply]) == Reference("order", "48213", "history")  # else the customer's
    assert followup_reference([earlier], today=date(2026, 12, 2)) == followup_reference([earlier])
    assert followup_reference([earlier], today=date(2026, 12, 3)) is None  # 31 days: a new matter
    assert followup_reference([]) is None
    assert followup_reference([earlier], intent="where_is_my_order") == followup_reference([earlier])
    assert followup_reference([earlier], intent="product_question") is None  # a new matter, not a follow-up

    class Drafted:
        def __init__(self, text: str) -> None:
            self.text = text

    prefer = repeats_reference("Still nothing here.", [earlier], today=date(2026, 11, 12))
    assert prefer is not None and prefer(Drafted("The trace for NW-22222 is still open."))
    assert not prefer(Drafted("Sorry, your parcel is late."))
    own = repeats_reference("Order NW-44444 is late too.", [earlier])  # the ticket's own id comes first
    assert own is not None and own(Drafted("Order NW-44444")) and not own(Drafted("Order NW-22222"))
    assert repeats_reference("Still nothing here.", [earlier], today=date(2027, 1, 1)) is None


def _ticket(text: str, label: str = "payment_failed") -> DemoTicket:
    return DemoTicket(text, "", text, label, "Ana Lee", "ana@example.com")


def test_an_attachment_twin_moves_the_details_into_an_attachment_and_keeps_the_customers_order() -> None:
    rng = random.Random(3)
    twins = [
        attachment_twin(_ticket("Where is NW-55555? It is late.", "where_is_my_order"), rng)
        for _ in range(20)
    ]
    for twin in twins:
        head, _, rest = twin.text.partition("\n\n[Attachment ")
        assert "NW-55555" not in head and rest  # the body is vague, the details are in the attachment
        reference = salient_reference(twin.text)
        assert reference is not None and reference.source != "message"
        # a customer's own order number is never replaced by an invented one (a voicemail reads a new one)
        assert reference.value == "NW-55555" or reference.source == "voice message"
    payment = [attachment_twin(_ticket("Card declined at checkout."), rng) for _ in range(40)]
    errors = [salient_reference(t.text) for t in payment]
    screens = [r for r in errors if r and r.kind == "error" and r.source in ("image", "PDF")]
    assert len(screens) >= 15  # most payment twins carry an error screen


def test_twins_are_added_to_the_tickets_never_instead_of_them() -> None:
    tickets = generate_tickets(per_intent=4, seed=5, languages=("en", "zh"))
    combined = with_attachment_twins(tickets, share=0.5, seed=6)
    assert set(t.text for t in tickets) <= set(t.text for t in combined)
    assert len(tickets) < len(combined) < 2 * len(tickets)
    assert combined == with_attachment_twins(tickets, share=0.5, seed=6)  # seeded


def test_the_demo_agent_repeats_the_identifier_back_and_thanks_for_the_attachment() -> None:
    text = with_attachments(
        "付款失败，见截图", [ReadText("s.png", "image/png", "支付失败\n错误代码 E-77：银行卡被拒绝")]
    )
    said = acknowledgement(text, "zh", random.Random(1))
    assert said[0] == "谢谢您发来的截图。" and "E-77" in said[1]
    assert acknowledgement("my parcel is late", "en", random.Random(1)) == []
    resolutions = demo_resolutions(retrieve=lambda _t: [], per_intent=20, seed=7, languages=("en", "zh"))
    with_reference = [(r, salient_reference(r.ticket)) for r in resolutions]
    with_reference = [(r, ref) for r, ref in with_reference if ref is not None]
    errors = [cites(r.reply, ref) for r, ref in with_reference if ref.kind == "error"]
    orders = [cites(r.reply, ref) for r, ref in with_reference if ref.kind == "order"]
    assert len(errors) >= 10 and all(errors) and len(orders) >= 100 and all(orders)
    assert {ref.source for _, ref in with_reference} >= {"message", "image", "PDF", "voice message", "text"}


def test_the_evaluation_counts_drafts_that_repeat_the_tickets_identifier() -> None:
    attached = with_attachments("See attached.", [ReadText("s.png", "image/png", "Error code E-4012")])
    test = [
        ReplyExample("Where is order NW-12345?", "ref", "where_is_my_order"),
        ReplyExample(attached, "ref", "payment_failed"),
        ReplyExample("my parcel is late", "ref", "where_is_my_order"),
    ]
    scores = reference_citation(["Your order NW-12345 left today.", "Sorry about that.", "Sorry."], test)
    assert scores == {
        "reference_tickets": 2,
        "reference_citation": 0.5,
        "attachment_reference_tickets": 1,
        "attachment_reference_citation": 0.0,
    }
