"""The demo shop's resolved tickets: an agent's reply to every demo ticket, grounded in the passages the
drafting prompt shows for that ticket.

A reply = greeting + an opener for the intent + the body of the highest-ranked retrieved section that
answers the intent (`demo_reply_bodies.BODIES`; a second one when another retrieved article also answers
it) + a closing. When no retrieved passage answers the intent, the agent writes what the product's own
template says (no figure, no commitment): so the generator learns to use the context when it is there and
not to invent one when it is not. English and Chinese.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.trainer.demo_reply_bodies import BODIES
from shared.drafting.prompt import Passage
from shared.drafting.references import salient_reference
from shared.drafting.templates import BY_INTENT, BY_INTENT_ZH, GENERIC, GENERIC_ZH
from shared.kb.importers import read_articles

KB_DIR = Path(__file__).resolve().parents[2] / "shared" / "kb"

# the articles that answer each demo intent (others may be retrieved but are not what the agent cites)
INTENT_ARTICLES: dict[str, tuple[str, ...]] = {
    "account_locked": ("account-locked", "account-security"),
    "cancel_order": ("cancel-an-order",),
    "change_address": ("change-delivery-address",),
    "complaint": ("complaints-and-feedback",),
    "damaged_item": ("damaged-items",),
    "discount_code": ("discount-codes", "price-drop-refunds"),
    "invoice_request": ("invoices",),
    "payment_failed": ("payment-declined", "payment-methods"),
    "praise": ("complaints-and-feedback",),
    "product_question": ("product-questions",),
    "refund_request": ("refund-timelines", "price-drop-refunds", "payment-declined", "late-or-lost-parcels"),
    "return_item": ("how-to-return-an-item", "returns-policy"),
    "warranty_claim": ("warranty",),
    "where_is_my_order": ("late-or-lost-parcels", "track-your-order", "shipping-times"),
}
OPENERS = {
    "en": {
        "account_locked": (
            "I'm sorry you can't get into your account.",
            "Sorry about the trouble signing in.",
        ),
        "cancel_order": (
            "Thanks for letting us know you'd like to cancel.",
            "Thank you for your message about cancelling your order.",
        ),
        "change_address": (
            "Thanks for sending the new address.",
            "Thank you for letting us know about the address.",
        ),
        "complaint": (
            "I'm sorry about your experience, and thank you for telling us.",
            "I'm sorry we let you down.",
        ),
        "damaged_item": (
            "I'm sorry your item arrived damaged.",
            "Sorry to hear the item arrived in that state.",
        ),
        "discount_code": (
            "Thanks for getting in touch about your discount code.",
            "Sorry the code gave you trouble.",
        ),
        "invoice_request": (
            "Thanks for your message about the invoice.",
            "Thank you for your invoice request.",
        ),
        "payment_failed": (
            "I'm sorry your payment did not go through.",
            "Sorry about the trouble at checkout.",
        ),
        "praise": ("Thank you so much for your kind words!", "What a lovely message, thank you!"),
        "product_question": ("Thanks for your question.", "Thank you for asking before you buy."),
        "refund_request": (
            "Thanks for your message about your refund.",
            "Thank you for getting in touch about the refund.",
        ),
        "return_item": (
            "Thanks for getting in touch about a return.",
            "Thank you for your message about returning an item.",
        ),
        "warranty_claim": (
            "I'm sorry the product has stopped working.",
            "Sorry to hear it has developed a fault.",
        ),
        "where_is_my_order": (
            "I'm sorry your parcel has not reached you yet.",
            "Sorry for the wait on your delivery.",
        ),
    },
    "zh": {
        "account_locked": ("很抱歉您登录不了账号。", "抱歉给您登录带来了麻烦。"),
        "cancel_order": ("收到您想取消订单的消息。", "感谢您告诉我们要取消订单。"),
        "change_address": ("收到您提供的新地址。", "感谢您告诉我们地址的情况。"),
        "complaint": ("非常抱歉给您带来了不好的体验，感谢您告诉我们。", "很抱歉让您失望了。"),
        "damaged_item": ("很抱歉您收到的商品有损坏。", "收到破损的商品，真的很抱歉。"),
        "discount_code": ("收到您关于优惠码的消息。", "抱歉优惠码给您添了麻烦。"),
        "invoice_request": ("收到您的开票需求。", "感谢您的发票申请。"),
        "payment_failed": ("很抱歉您的付款没有成功。", "抱歉结账时给您添了麻烦。"),
        "praise": ("非常感谢您的肯定和鼓励！", "收到您的好评，太开心了，谢谢！"),
        "product_question": ("感谢您的咨询。", "谢谢您在下单前先来问我们。"),
        "refund_request": ("收到您关于退款的消息。", "感谢您联系我们说明退款的情况。"),
        "return_item": ("收到您的退货申请。", "感谢您联系我们办理退货。"),
        "warranty_claim": ("很抱歉商品出现了故障。", "听说商品坏了，很抱歉。"),
        "where_is_my_order": ("很抱歉您的包裹还没有送到。", "抱歉让您久等了。"),
    },
}
CLOSINGS = {
    "en": ("Let me know if there is anything else I can help with.", "Thanks for your patience.", ""),
    "zh": ("如有其他问题，直接回复这封邮件就可以。", "感谢您的耐心。", ""),
}
SIGN_OFF = {"en": "Kind regards,\nThe Northwind Goods team", "zh": "祝好！\nNorthwind Goods 客服团队"}
# a team's own voice, for simulated resolutions (`helploop simulate-resolutions --style team`): named
# agents, their own greeting and closing; the facts are the same knowledge-base sections
TEAM_AGENTS = ("Priya", "Tom", "Lena", "Marco", "Grace")
TEAM_CLOSINGS = {
    "en": ("If anything else comes up, just reply here and it comes straight back to me.",),
    "zh": ("还有任何问题，直接回复这封邮件，会直接转到我这里。",),
}
# the agent repeats the ticket's error code / order / invoice number back (`shared.drafting.references`), and
# thanks for the attachment it came in: so drafts learn to copy it from the prompt
ACKNOWLEDGE = {
    "en": {
        "error": ("Thanks for sending the error code {v}.", "I can see the error {v} in what you sent."),
        "order": ("I've noted your order {v}.", "Thanks for the order number, {v}."),
        "invoice": ("I've noted invoice {v}.",),
    },
    "zh": {
        "error": ("看到了您发来的错误代码 {v}。", "您遇到的错误 {v} 我们已经记下了。"),
        "order": ("已记下您的订单号 {v}。", "您的订单 {v} 我们已经记下了。"),
        "invoice": ("发票号 {v} 我们已经记下了。",),
    },
}
ATTACHMENT_SHARE = 0.15  # demo tickets that also come as an attachment twin (`demo_attachments`)
THANKS_FOR = {
    "en": {
        "image": "Thanks for the screenshot.",
        "PDF": "Thanks for the document.",
        "voice message": "Thanks for your voice message.",
    },
    "zh": {
        "image": "谢谢您发来的截图。",
        "PDF": "收到您发来的文件了。",
        "voice message": "收到您的语音留言了。",
    },
}


@cache
def section_index() -> dict[tuple[str, str], tuple[str, int]]:
    """(article id, section heading) → (English article id, section index), for both languages."""
    index = {}
    for folder in ("demo_articles", "demo_articles_zh"):
        for article in read_articles(KB_DIR / folder):
            base = article.id.removesuffix("-zh")
            headings = re.findall(r"^## (.+)$", article.body, flags=re.MULTILINE)
            index.update({(article.id, h.strip()): (base, i) for i, h in enumerate(headings)})
    return index


def answering_bodies(intent: str, passages: list[Passage], language: str, limit: int = 2) -> list[str]:
    """Bodies for the retrieved sections (best first) that answer `intent`."""
    keys: list[tuple[str, int]] = []
    for passage in passages:
        heading = passage.title.split(" — ", 1)[1] if " — " in passage.title else ""
        key = section_index().get((passage.source_id, heading.strip()))
        # a section and its twin in the other language are one answer
        if key and key[0] in INTENT_ARTICLES.get(intent, ()) and key in BODIES and key not in keys:
            keys.append(key)
    return [BODIES[key][language] for key in keys[:limit]]


def acknowledgement(ticket: str, language: str, rng: random.Random) -> list[str]:
    """The sentences that repeat the ticket's identifier back (none when it has none): always — a small
    model fine-tuned for minutes learns a habit it sees every time, not one it sees half the time (with
    50 % for the message's own order numbers and 80 % for the rest, the demo generator repeated 14 % of
    them; `docs/drafts.md`)."""
    reference = salient_reference(ticket)
    if reference is None:
        return []
    from_attachment = reference.source in THANKS_FOR[language]
    said = rng.choice(ACKNOWLEDGE[language][reference.kind]).format(v=reference.value)
    return [THANKS_FOR[language][reference.source], said] if from_attachment else [said]


@dataclass(frozen=True)
class DemoResolution:
    ticket: str
    intent: str
    language: str
    customer_name: str
    passages: list[Passage]
    reply: str
    grounded_in_context: bool  # False: no retrieved section answered it (the template's words)


def greeting(name: str, language: str, style: str = "demo") -> str:
    if language == "zh":  # 王芳您好，/ a Latin name by its first part: Kevin您好，
        return f"{name.split(' ')[0].strip() if name.isascii() else name.strip()}您好，"
    first = name.split(" ")[0].strip() or "there"
    return f"Hello {first}," if style == "team" else f"Hi {first},"


def demo_reply(
    *,
    ticket: str,
    intent: str,
    customer_name: str,
    language: str,
    passages: list[Passage],
    rng: random.Random,
    style: str = "demo",
) -> tuple[str, bool]:
    """(reply, whether a retrieved passage answered it); `style` "team": a team's own voice."""
    bodies = answering_bodies(intent, passages, language)
    grounded = bool(bodies)
    if not bodies:
        fallback = (
            BY_INTENT_ZH.get(intent, GENERIC_ZH) if language == "zh" else BY_INTENT.get(intent, GENERIC)
        )
        bodies = [fallback]
    opener = rng.choice(OPENERS[language][intent])
    separator = "" if language == "zh" else " "
    opener = separator.join([opener, *acknowledgement(ticket, language, rng)])
    middle = separator.join([opener, *bodies])
    if style == "team":
        agent = rng.choice(TEAM_AGENTS)
        closing, sign_off = (
            TEAM_CLOSINGS[language][0],
            f"{'祝好！' if language == 'zh' else 'Best wishes,'}\n{agent}",
        )
    else:
        closing, sign_off = rng.choice(CLOSINGS[language]), SIGN_OFF[language]
    parts = [greeting(customer_name, language, style), middle, closing, sign_off]
    return "\n\n".join(p for p in parts if p), grounded


def demo_resolutions(
    *,
    retrieve: Callable[[str], list[Passage]],
    per_intent: int,
    seed: int,
    languages: tuple[str, ...] = ("en",),
    style: str = "demo",
) -> list[DemoResolution]:
    """Seeded demo tickets with the passages `retrieve` gives them and the agent's reply to each."""
    from services.trainer.demo_attachments import with_attachment_twins
    from services.trainer.demo_data import generate_tickets
    from shared.runtime.language import detect_language

    rng = random.Random(seed)
    resolutions = []
    tickets = generate_tickets(per_intent=per_intent, seed=seed, languages=languages)
    for ticket in with_attachment_twins(tickets, share=ATTACHMENT_SHARE, seed=seed + 1):
        language = "zh" if detect_language(ticket.text).language == "zh" else "en"
        passages = retrieve(ticket.text)
        reply, grounded = demo_reply(
            ticket=ticket.text,
            intent=ticket.label,
            customer_name=ticket.customer_name,
            language=language,
            passages=passages,
            rng=rng,
            style=style,
        )
        resolutions.append(
            DemoResolution(
                ticket.text, ticket.label, language, ticket.customer_name, passages, reply, grounded
            )
        )
    return resolutions
