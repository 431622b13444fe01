"""What the models read of an e-mail ticket: the newest message, whatever client wrote the thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.trainer.data import load_examples
from shared.tickets.models import Ticket
from shared.tickets.normalise import GREETING, QUOTED, SIGNATURE, model_text, normalise_ticket, plain_text

NEW = "I want to cancel order NW-48213, I ordered the wrong size."
OLD = "Where is my refund for NW-11111? It has been three weeks and I still have not been paid back."

THREADS = {
    "gmail": f"Hi,\n\n{NEW}\n\nThanks,\nSam Lee\n+44 20 7946 0958\n\nOn Mon, 3 Nov 2026 at 10:02, Sam Lee "
    f"<sam@example.com> wrote:\n> {OLD}\n> Sam",
    "outlook": f"{NEW}\n\nSam\n\n-----Original Message-----\nFrom: Sam Lee <sam@example.com>\nSent: Monday, "
    f"3 November 2026 10:02\nTo: support@northwind.example\nSubject: refund\n\n{OLD}",
    "underscores": f"{NEW}\n\n________________________________\nFrom: Sam Lee <sam@example.com>\n"
    f"Sent: Monday\nTo: Support\nSubject: refund\n\n{OLD}",
    "german": f"Hallo,\n\n{NEW}\n\nViele Grüße\nSam\n\nAm 03.11.2026 um 10:02 schrieb Sam Lee "
    f"<sam@example.com>:\n> {OLD}",
    "forwarded": f"{NEW}\n\n---------- Forwarded message ---------\nFrom: Sam Lee <sam@example.com>\n"
    f"Date: Mon, 3 Nov 2026\nSubject: refund\nTo: support\n\n{OLD}",
    "mobile": f"{NEW}\n\nSent from my iPhone\n\n> On 3 Nov 2026, at 10:02, Sam Lee wrote:\n>\n> {OLD}",
    "html": f"<html><head><style>p {{color: red}}</style></head><body><p>{NEW}</p><p>Best regards,<br>Sam</p>"
    f'<div class="gmail_quote">On Mon, Sam wrote:<blockquote>{OLD}</blockquote></div></body></html>',
}
NEW_ZH = "我要取消订单NW-48213，尺码买错了。"
OLD_ZH = "我的退款NW-11111怎么还没到账？已经三个星期了。"
THREADS_ZH = {
    "qq": f"{NEW_ZH}\n\n发自我的iPhone\n\n------------------ 原始邮件 ------------------\n"
    f'发件人: "张伟"<zw@example.com>\n发送时间: 2026年11月3日(星期一) 上午10:02\n'
    f'收件人: "客服"\n主题: 退款\n\n{OLD_ZH}',
    "wrote": f"{NEW_ZH}\n\n张伟\n\n在 2026年11月3日 10:02，张伟 <zw@example.com> 写道：\n> {OLD_ZH}",
    "outlook_zh": f"{NEW_ZH}\n\n发件人: 张伟 <zw@example.com>\n发送时间: 2026年11月3日 10:02\n收件人: 客服\n"
    f"主题: 退款\n\n{OLD_ZH}",
}


@pytest.mark.parametrize("client", sorted(THREADS))
def test_the_quoted_message_never_reaches_the_model(client: str) -> None:
    """The quoted message asks for another thing (a refund): only the new one (a cancellation) is read."""
    normalised = normalise_ticket(THREADS[client], "Re: my order")
    assert normalised.text.startswith("my order\n\n") and NEW in normalised.text  # greeting and name may stay
    assert "NW-11111" not in normalised.text and "refund" not in normalised.text.lower()
    removed = " ".join(part.text for part in normalised.removed)
    assert "NW-11111" in removed and {p.kind for p in normalised.removed} >= {QUOTED}


@pytest.mark.parametrize("client", sorted(THREADS_ZH))
def test_chinese_clients_threads_too(client: str) -> None:
    normalised = normalise_ticket(THREADS_ZH[client], "回复：订单")
    assert normalised.text.startswith(f"订单\n\n{NEW_ZH}"), normalised  # a bare name after it may stay
    assert "NW-11111" not in normalised.text and "NW-11111" in " ".join(p.text for p in normalised.removed)


def test_signatures_and_footers_are_removed_and_shown() -> None:
    body = (
        f"Hi team,\n{NEW}\n\nKind regards,\nSam Lee | Acme Ltd\n\nCONFIDENTIALITY NOTICE: This e-mail and "
        "any attachments are confidential."
    )
    normalised = normalise_ticket(body)
    assert normalised.text == NEW  # the greeting line and the signature set aside
    assert [p.kind for p in normalised.removed] == [GREETING, SIGNATURE]
    assert "CONFIDENTIALITY" in normalised.removed[1].text


@pytest.mark.parametrize(
    "text",
    [
        "I am still waiting on my card?",
        "我的包裹还没到，已经两周了，我要退款",
        "> a message that is only a quote stays, rather than leave nothing",
        "Thanks",
        "Best regards",  # a message that is only a sign-off is kept
        "Can I pay with a card ending 1234? The price is $4.95 > $4.",
    ],
)
def test_one_liners_are_left_alone(text: str) -> None:
    assert model_text(text) == text


def test_html_bodies_keep_their_quotes_as_quoted_lines() -> None:
    text = plain_text(THREADS["html"])
    assert NEW in text and f"> {OLD}" in text and "color" not in text
    assert normalise_ticket(text).text == NEW  # stored as text, still read as the new message only


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                NEW,
                OLD,
                NEW_ZH,
                "",
                "Thanks,",
                "Sam",
                "> quoted",
                "-----Original Message-----",
                "From: a@b.c",
                "Sent: Monday",
                "On Mon, Sam wrote:",
                "发件人: 张伟",
                "Best regards",
                "--",
                "Hi,",
                "发自我的iPhone",
            ]
        ),
        max_size=12,
    )
)
def test_normalising_twice_changes_nothing(lines: list[str]) -> None:
    once = model_text("\n".join(lines))
    assert model_text(once) == once


def test_training_and_inference_read_the_same_text(tmp_path: Path) -> None:
    """A resolved ticket's text (the nightly dataset) and a hand-made training file read alike."""
    resolved = Ticket(subject="Re: my order", body=THREADS["gmail"])
    raw = Ticket(subject="", body=THREADS["outlook"])
    path = tmp_path / "train.csv"
    rows = [
        resolved.text,
        raw.original_text,
    ]  # what the nightly dataset stores; a raw e-mail in a team's file
    path.write_text("text,label\n" + "".join('"' + r.replace('"', '""') + '",cancel_order\n' for r in rows))
    assert [e.text for e in load_examples(path)] == [resolved.text, raw.text]
    assert resolved.original_text.endswith(f"> {OLD}\n> Sam")  # the stored original is untouched


def test_the_email_test_set_is_seeded_and_the_normaliser_recovers_every_new_message() -> None:
    from services.trainer.data import Example
    from services.trainer.email_wrap import wrap_examples

    texts = [(NEW, "cancel"), (OLD, "refund"), (NEW_ZH, "cancel"), (OLD_ZH, "refund"), ("Hi", "greeting")]
    plain = [Example(f"{text} ({i})", {"intent": label}) for i in range(220) for text, label in texts]
    wrapped = wrap_examples(plain, seed=5)
    assert len(wrapped) == 1100 and wrapped == wrap_examples(plain, seed=5) != wrap_examples(plain, seed=6)
    assert sum("<html>" in e.text for e in wrapped) > 50 and all(
        e.labels == p.labels for e, p in zip(wrapped, plain, strict=True)
    )
    for example, original in zip(wrapped, plain, strict=True):
        read = model_text(example.text)
        assert original.text in read, (read, example.text)
        assert "NW-11111" not in read if original.label == "cancel" else "NW-48213" not in read, example.text
