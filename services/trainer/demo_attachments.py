"""Demo tickets whose details arrive as an attachment: the body only says "see the screenshot" and the
customer's words, order number or error screen are in a screenshot, a scanned PDF, a voice message or a
text file — joined under its marker line exactly as triage joins read attachments (`shared.media.text`).

The generator is trained on these beside the plain demo tickets so that its drafts use what an attachment
says (the error code on the screen, the order number read out in a voicemail), and the planted-evidence
eval (`media_eval.evidence_eval`) shares the vague bodies. English and Chinese.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.trainer.demo_data import DemoTicket
from shared.drafting.references import ORDER
from shared.media.text import with_attachments

VAGUE = {
    "en": ("Please see the attached file.", "It's all in the attachment, thanks.", "See attached."),
    "zh": ("详情请见附件。", "问题都在附件里，谢谢。", "请看附件截图。"),
}
PAYING = {
    "en": (
        "it says this when I pay",
        "I get this every time I try to pay.",
        "Checkout shows this, see screenshot",
    ),
    "zh": ("付款的时候出现这个", "每次结账都显示这个。", "付款失败，见截图"),
}
ERROR_SCREENS = {
    "en": (
        "Payment failed\nError code {code}: card declined\nOrder {order}",
        "Something went wrong\nWe could not process your payment (error {code}).\nOrder {order}",
    ),
    "zh": (
        "支付失败\n错误代码 {code}：银行卡被拒绝\n订单号 {order}",
        "付款未完成\n错误码：{code}\n订单号：{order}",
    ),
}
ERROR_PREFIXES = ("E-", "PAY-", "ERR-", "CHK-")
# (kind, MIME type as sniffed, file name)
KINDS = (
    ("image", "image/png", "screenshot.png"),
    ("PDF", "application/pdf", "scan.pdf"),
    ("voice message", "audio/wav", "voicemail.wav"),
    ("text", "text/plain", "message.txt"),
)


@dataclass(frozen=True)
class ReadText:
    """An attachment as `shared.media.text.with_attachments` joins it: its name, sniffed kind, text."""

    filename: str
    kind: str | None
    text: str | None


def _language(text: str) -> str:
    return "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"


def _content(ticket: DemoTicket, kind: str, language: str, rng: random.Random) -> tuple[str, str]:
    """(body the customer typed, what the attachment says)."""
    order = f"{rng.choice(('NW', 'ORD'))}-{rng.randint(10000, 99999)}"
    if ticket.label == "payment_failed" and kind in ("image", "PDF"):
        code = f"{rng.choice(ERROR_PREFIXES)}{rng.randint(100, 9999)}"
        screen = rng.choice(ERROR_SCREENS[language]).format(code=code, order=order)
        return rng.choice(PAYING[language]), screen
    if kind == "voice message":  # a transcript: the words as spoken, the order number as digits
        digits = order.split("-")[1]
        said = f"我的订单号是{digits}。" if language == "zh" else f"My order number is {digits}."
        return rng.choice(VAGUE[language]), f"{ticket.body.strip()} {said}"
    if ORDER.search(ticket.text):  # the customer's own order number is in what they attached
        return rng.choice(VAGUE[language]), ticket.text
    label = "订单号" if language == "zh" else "Order"
    return rng.choice(VAGUE[language]), f"{ticket.text}\n{label}: {order}"


def attachment_twin(ticket: DemoTicket, rng: random.Random) -> DemoTicket:
    """`ticket` as a vague body with its details (and an order number) in an attachment."""
    language = _language(ticket.text)
    kinds = KINDS[:2] if ticket.label == "payment_failed" and rng.random() < 0.7 else KINDS
    kind, mime, filename = rng.choice(kinds)
    body, said = _content(ticket, kind, language, rng)
    text = with_attachments(body, [ReadText(filename, mime, said)])
    return dataclasses.replace(ticket, text=text, subject="", body=body)


def with_attachment_twins(tickets: Sequence[DemoTicket], *, share: float, seed: int) -> list[DemoTicket]:
    """`tickets` plus an attachment twin of a seeded `share` of them (half of the payment problems: their
    error screens are what a screenshot is most often sent for), shuffled together."""
    rng = random.Random(seed)
    twins = [
        attachment_twin(t, rng)
        for t in tickets
        if rng.random() < (max(share, 0.5) if t.label == "payment_failed" else share)
    ]
    combined = [*tickets, *twins]
    rng.shuffle(combined)
    return combined
