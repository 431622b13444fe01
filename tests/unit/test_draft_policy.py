"""What a draft says: placeholders, deflection, unsupported promises and refusals, contradicted figures
(English and Chinese), and the labelled draft-safety set that measures them (`helploop guardrails-eval`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.safety.evaluate import score
from services.trainer.safety.testset import REASONS, generate, handwritten, sections
from shared.drafting.guardrails import Flag, check_draft

KB = Path(__file__).resolve().parents[2] / "shared" / "kb"
LATE = (KB / "demo_articles" / "late-or-lost-parcels.md").read_text()
REFUNDS = (KB / "demo_articles" / "refund-timelines.md").read_text()
CANCEL_ZH = (KB / "demo_articles_zh" / "cancel-an-order.md").read_text()
TICKET = "my parcel never arrived and it's been two weeks, I want a refund"


def flags(draft: str, articles: list[str], ticket: str = TICKET, language: str | None = None) -> list[str]:
    return check_draft(draft, ticket_text=ticket, cited_articles=articles, language=language).flags


def test_the_untuned_models_refund_refusal_is_caught_three_ways() -> None:
    draft = (
        "Dear customer, I am not able to provide refunds based on the details provided. I would recommend "
        "contacting our customer service team at [Your Company Name]."
    )
    found = flags(draft, [LATE, REFUNDS])
    assert {Flag.UNSUPPORTED_REFUSAL, Flag.DEFLECTION, Flag.PLACEHOLDER} <= set(found)


def test_a_grounded_refund_answer_passes() -> None:
    draft = (
        "Hi Sam, I'm sorry your parcel hasn't arrived. A Standard parcel counts as late 7 working days after "
        "dispatch, so we will open a trace with the carrier; it takes up to 5 working days. If the carrier "
        "cannot find it, we will refund the order in full or send a free replacement, whichever you prefer."
    )
    assert flags(draft, [LATE, REFUNDS]) == []


@pytest.mark.parametrize(
    "slot", ["{{Order Number}}", "[Your Company Name]", "<name>", "XXX", "$XX.XX", "【订单号】", "[姓名]"]
)
def test_template_placeholders_are_flagged(slot: str) -> None:
    assert Flag.PLACEHOLDER in flags(f"Hi, your order {slot} is being checked by the team today.", [])


def test_citation_marks_and_brackets_of_digits_are_not_placeholders() -> None:
    draft = "Hi Sam, a parcel is late when it has not arrived 7 working days after dispatch [1]."
    assert flags(draft, [LATE]) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "For further assistance, please contact our customer service team.",
        "Our customer service team will be able to help you further, please contact them.",
        "You can reach our customer support via live chat.",
        "建议您联系一下在线客服。",
        "麻烦您联系售后部门处理。",
    ],
)
def test_deflection_to_customer_service_is_flagged(sentence: str) -> None:
    assert Flag.DEFLECTION in flags(f"Hi Sam, sorry for the trouble. {sentence}", [LATE])


def test_thanking_for_contact_and_reply_to_this_email_are_not_deflection() -> None:
    draft = "Hi Sam, thank you for contacting us. If you have other questions, just reply to this e-mail."
    assert flags(draft, []) == []
    assert (
        flags("您好，感谢您联系我们！如有其他问题，直接回复这封邮件就可以。", [], ticket="快递到哪了") == []
    )


def test_promises_no_cited_article_makes_are_flagged_and_supported_ones_pass() -> None:
    assert Flag.UNSUPPORTED_PROMISE in flags(
        "Hi, as an apology we will add a voucher to your account.", [LATE]
    )
    assert Flag.UNSUPPORTED_PROMISE in flags("Hi Sam, your parcel will arrive tomorrow for sure.", [LATE])
    assert Flag.UNSUPPORTED_PROMISE in flags("您好，这次我们破例为您办理退货。", [LATE], ticket="能退吗")
    # the ticket's "下周" (moving next week) does not back "下周一一定会到货" (arrives next Monday)
    ticket = "公司下周搬迁，请改地址。"
    assert Flag.UNSUPPORTED_PROMISE in flags("您好，地址已改好，下周一一定会到货。", [LATE], ticket=ticket)
    # the late-parcels article offers a replacement or a full refund: promising one is supported
    assert flags("Hi Sam, if the carrier cannot find it we will refund the order in full.", [LATE]) == []
    # "will confirm the cancellation" is a look, not a commitment
    assert flags("Hi Sam, we are checking the parcel and will confirm the cancellation shortly.", []) == []


def test_refusals_need_a_cited_article_that_says_no() -> None:
    assert Flag.UNSUPPORTED_REFUSAL in flags("Hi, a refund is not possible for this order.", [LATE])
    assert Flag.UNSUPPORTED_REFUSAL in flags("您好，这个订单不能退款。", [LATE], ticket="我要退款")
    # the Chinese cancellation article says a dispatched order cannot be cancelled
    assert flags("您好，已发货的订单无法取消，但您可以拒收。", [CANCEL_ZH], ticket="能取消吗") == []


def test_a_figure_contradicting_the_cited_article_is_flagged() -> None:
    draft = "Hi, we issue the refund within 5 working days after your return arrives at our warehouse."
    assert Flag.CONTRADICTION in flags(draft, [REFUNDS])
    right = (
        "Hi, we issue the refund within 3 working days after your return arrives, and your bank then needs "
        "5-10 working days to show it on your statement."
    )
    assert flags(right, [REFUNDS]) == []
    # a figure the customer wrote is theirs to quote
    assert (
        flags("Hi, I'm sorry it has been 12 days without your parcel.", [LATE], ticket="12 days now!") == []
    )


def test_the_safety_set_covers_every_reason_in_both_languages_with_real_faults() -> None:
    for language in ("en", "zh"):
        items = generate(120, seed=5, language=language)
        kinds = {item.kind for item in items}
        assert kinds >= {"clean", *REASONS}, kinds
        assert all(item.kind == item.id.rsplit(":", 1)[1] for item in items)
        assert len(handwritten(language)) >= 25
    assert len(sections()) >= 60


def test_the_guardrails_meet_their_targets_on_a_fresh_seed() -> None:
    for language in ("en", "zh"):
        result = score([*generate(300, seed=101, language=language), *handwritten(language)])
        assert all(result.recall(r) >= 0.99 for r in REASONS if result.planted[r]), result.table()
        assert result.false_flag_rate <= 0.05, result.misses[:3]


def test_a_draft_greeting_someone_else_is_flagged() -> None:
    draft = "Hi Amara,\n\nSorry your parcel is late: a Standard parcel is late 7 working days after dispatch."
    assert Flag.WRONG_NAME in flags_named(draft, "Alex Doe")
    assert flags_named(draft.replace("Amara", "Alex"), "Alex Doe") == []
    assert flags_named(draft.replace("Amara", "there"), "Alex Doe") == []
    assert flags_named(draft, None) == []  # no name from the helpdesk: nothing to compare with
    chinese = "李雷您好，\n\n普通快递在发货后 7 个工作日仍未送达就算延误。"
    assert (
        Flag.WRONG_NAME
        in check_draft(chinese, ticket_text="快递没到", cited_articles=[LATE], customer_name="王芳").flags
    )
    latin = "Amy您好，\n\n普通快递在发货后 7 个工作日仍未送达就算延误。"  # a Latin name in a Chinese greeting
    assert (
        Flag.WRONG_NAME
        in check_draft(
            latin, ticket_text="快递没到", cited_articles=[LATE], customer_name="Kevin Zhang"
        ).flags
    )
    for fine in ("Kevin您好，", "Kevin，您好！", "Hi，您好，"):
        report = check_draft(
            latin.replace("Amy您好，", fine),
            ticket_text="快递没到",
            cited_articles=[LATE],
            customer_name="Kevin Zhang",
        )
        assert Flag.WRONG_NAME not in report.flags, fine


def flags_named(draft: str, name: str | None) -> list[str]:
    return check_draft(draft, ticket_text=TICKET, cited_articles=[LATE], customer_name=name).flags
