"""Training replies lose exactly the sentences the guardrails would stop, and nothing else."""

from __future__ import annotations

from services.trainer.generation.data import ReplyExample, learnable, stc3_examples
from shared.drafting.cleaning import clean_reply, learnable_reply
from shared.drafting.guardrails import check_draft

BITEXT_LIKE = (
    "I understand you want to sign up for our newsletter. Please follow these steps:\n"
    "\n"
    "1. Go to our {{Website Name}}.\n"
    "2. Scroll down to the newsletter section.\n"
    "3. Enter your e-mail address and click Subscribe.\n"
    "\n"
    "Should you need help, please reach out to our customer support team at "
    "{{Customer Support Phone Number}} or via [Live Chat]. Happy reading!"
)


def test_unsafe_sentences_go_and_the_steps_are_numbered_again() -> None:
    cleaned = clean_reply(BITEXT_LIKE)
    assert cleaned == (
        "I understand you want to sign up for our newsletter. Please follow these steps:\n"
        "\n"
        "1. Scroll down to the newsletter section.\n"
        "2. Enter your e-mail address and click Subscribe.\n"
        "\n"
        "Happy reading!"
    )
    assert check_draft(cleaned, ticket_text="how do I get the newsletter", cited_articles=[]).ok
    assert not check_draft(BITEXT_LIKE, ticket_text="how do I get the newsletter", cited_articles=[]).ok


def test_a_step_removed_under_its_heading_leaves_no_gap_and_no_blank_line() -> None:
    reply = "Follow these steps:\n1. Go to {{Website Name}}.\n2. Open Orders.\n3. Click Cancel.\nDone!"
    assert clean_reply(reply) == "Follow these steps:\n1. Open Orders.\n2. Click Cancel.\nDone!"


def test_a_safe_reply_is_kept_byte_for_byte_whatever_its_length() -> None:
    for reply in ("Thanks!", "您好！您的满意是我们不断前进的动力.谢谢！", "It is 6.0.\n2. Not a list"):
        assert learnable_reply(reply) == reply


def test_chinese_sentences_go_without_touching_the_rest() -> None:
    reply = "您好,很抱歉给您带来不便。请联系我们的客服。我们会在3个工作日内为您处理退款申请,请耐心等待。"
    assert clean_reply(reply) == "您好,很抱歉给您带来不便。我们会在3个工作日内为您处理退款申请,请耐心等待。"


def test_a_reply_with_too_little_left_is_not_learned_from() -> None:
    assert learnable_reply("Hi! Please contact our customer support team at {{Phone}}.") is None
    examples = [
        ReplyExample("where is it", "Please contact our customer service team about it."),
        ReplyExample("where is it", BITEXT_LIKE, "newsletter"),
    ]
    assert [e.reply for e in learnable(examples)] == [clean_reply(BITEXT_LIKE)]
    assert learnable(examples)[0].intent == "newsletter"


def test_weibo_emoticons_are_not_learned_as_template_slots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "dialogues.json"
    path.write_text(
        '[{"turns": [{"sender": "customer", "utterances": ["网速太慢了"]},'
        ' {"sender": "helpdesk", "utterances": ["您好,请问是哪个地区呢？[呵呵]"]}]}]',
        encoding="utf-8",
    )
    assert [e.reply for e in stc3_examples(path)] == ["您好,请问是哪个地区呢？"]
