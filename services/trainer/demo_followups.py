"""The demo shop's follow-up tickets: answers that depend on the customer's history.

Each follow-up comes after an earlier ticket of the same customer that an agent answered with a promise
("we will e-mail you the trace result by 28 November"); the follow-up itself ("Still nothing here.") names
no order. The right reply refers to the order and to what was promised, which only the customer's history
in the prompt holds, then gives the knowledge base's next step (`demo_replies.answering_bodies`) or the
template when no retrieved section answers. Five situations (a parcel trace, a refund, a return label, a
replacement, a repair), English and Chinese, written for this project.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.trainer.demo_replies import CLOSINGS, SIGN_OFF, answering_bodies, greeting
from shared.drafting.prompt import EarlierTicket, Passage
from shared.drafting.templates import BY_INTENT, BY_INTENT_ZH, GENERIC, GENERIC_ZH


@dataclass(frozen=True)
class Situation:
    earlier_intent: str
    intent: str  # of the follow-up
    earlier: tuple[str, ...]  # the first ticket ({order}, {item}, {days})
    promise: str  # our reply's promise ({order}, {date})
    followups: tuple[str, ...]  # the follow-up ticket ({date} where the customer quotes it)
    reference: str  # the follow-up reply's first sentence ({order}, {date})


EN = (
    Situation(
        "where_is_my_order",
        "where_is_my_order",
        (
            "My order {order} ({item}) still hasn't arrived, it's been {days} days since dispatch.",
            "Where is my parcel? Order {order}, the {item}. Tracking hasn't moved for {days} days.",
        ),
        "I've opened a trace with the carrier for order {order}; we will e-mail you the result by {date}.",
        (
            "It's past {date} and still no parcel, and nobody got back to me.",
            "Still nothing here. You said I'd hear about the trace by {date}.",
            "Any news? The parcel still hasn't come.",
        ),
        "I'm sorry the parcel for order {order} still hasn't arrived: we promised you the result of the "
        "carrier trace by {date}.",
    ),
    Situation(
        "return_item",
        "refund_request",
        (
            "I sent back the {item} from order {order} {days} days ago. When do I get my money?",
            "My return for order {order} ({item}) should be with you by now. Please refund me.",
        ),
        "Your return for order {order} has arrived and we will issue the refund by {date}.",
        (
            "I still haven't got my refund.",
            "Where is my money? You said the refund would be done by {date}.",
            "Nothing on my card yet, it's been a while.",
        ),
        "I'm sorry you haven't seen the refund for order {order} yet: we said we would issue it by {date}.",
    ),
    Situation(
        "return_item",
        "return_item",
        (
            "I want to return the {item} from order {order}, it doesn't suit me.",
            "How do I send back the {item}? Order {order}, delivered {days} days ago.",
        ),
        "I've requested a prepaid return label for order {order}; it will be in your inbox by {date}.",
        (
            "The return label never came.",
            "I'm still waiting for the label you promised by {date}.",
            "No label in my inbox, not even in spam.",
        ),
        "I'm sorry the return label for order {order} hasn't reached you: we said it would be in your "
        "inbox by {date}.",
    ),
    Situation(
        "damaged_item",
        "damaged_item",
        (
            "The {item} from order {order} arrived broken.",
            "Order {order}: the {item} was damaged in the box when it arrived {days} days ago.",
        ),
        "We are sending you a free replacement for order {order}; it will be dispatched by {date}.",
        (
            "The replacement still hasn't arrived.",
            "No sign of the replacement yet, you said it would go out by {date}.",
            "Still waiting for the new one.",
        ),
        "I'm sorry the replacement for order {order} hasn't reached you: we promised to dispatch it by "
        "{date}.",
    ),
    Situation(
        "warranty_claim",
        "warranty_claim",
        (
            "My {item} from order {order} stopped working after {days} days.",
            "The {item} (order {order}) has a fault, it won't switch on any more.",
        ),
        "We've booked the repair for order {order}; our service team will contact you by {date}.",
        (
            "Nobody from the service team has contacted me.",
            "Still no word about the repair. It's after {date}.",
            "What is happening with my repair?",
        ),
        "I'm sorry nobody has been in touch about the repair for order {order}: our service team should "
        "have contacted you by {date}.",
    ),
)
ZH = (
    Situation(
        "where_is_my_order",
        "where_is_my_order",
        (
            "订单 {order}（{item}）发货 {days} 天了还没收到。",
            "我的包裹到哪了？订单号 {order}，买的{item}，物流 {days} 天没更新了。",
        ),
        "我已经为订单 {order} 向快递公司发起查件，会在{date}前把结果发邮件告诉您。",
        (
            "已经过了{date}，包裹还是没到，也没人回复我。",
            "还是没收到，你们说{date}前告诉我查件结果的。",
            "有消息吗？包裹还没来。",
        ),
        "很抱歉订单 {order} 的包裹还没送到，我们答应过在{date}前告诉您查件结果。",
    ),
    Situation(
        "return_item",
        "refund_request",
        (
            "订单 {order} 的{item}我 {days} 天前就寄回去了，什么时候退款？",
            "订单 {order}（{item}）的退货应该已经到仓了，请给我退款。",
        ),
        "订单 {order} 的退货已经到仓，我们会在{date}前为您办理退款。",
        ("退款还是没收到。", "钱呢？说好{date}前退款的。", "卡里还没到账，等了好久了。"),
        "很抱歉订单 {order} 的退款您还没有收到，我们说过会在{date}前办理。",
    ),
    Situation(
        "return_item",
        "return_item",
        ("我想退订单 {order} 的{item}，不太合适。", "{item}怎么退？订单号 {order}，{days} 天前签收的。"),
        "我已经为订单 {order} 申请了预付运费的退货面单，会在{date}前发到您的邮箱。",
        ("退货面单一直没收到。", "还在等你们说{date}前发的面单。", "邮箱里没有面单，垃圾邮件里也没有。"),
        "很抱歉订单 {order} 的退货面单还没发到您那里，我们说过会在{date}前发到您的邮箱。",
    ),
    Situation(
        "damaged_item",
        "damaged_item",
        ("订单 {order} 的{item}收到就是坏的。", "订单 {order}：{days} 天前收到的{item}在箱子里就摔坏了。"),
        "我们会为订单 {order} 免费补发，{date}前发出。",
        ("补发的还没到。", "补发的一直没看到，说好{date}前发出的。", "还在等新的。"),
        "很抱歉订单 {order} 补发的商品还没送到，我们答应过在{date}前发出。",
    ),
    Situation(
        "warranty_claim",
        "warranty_claim",
        ("订单 {order} 的{item}用了 {days} 天就坏了。", "{item}（订单 {order}）出故障了，开不了机。"),
        "我们已经为订单 {order} 安排维修，售后团队会在{date}前联系您。",
        ("售后一直没人联系我。", "维修的事还是没消息，已经过了{date}了。", "我的维修到底怎么样了？"),
        "很抱歉维修的事一直没人联系您，售后团队本应在{date}前就订单 {order} 联系您。",
    ),
)
ITEMS = {
    "en": ("wireless earbuds", "kettle", "wool jumper", "bluetooth speaker", "toaster", "rain jacket"),
    "zh": ("无线耳机", "电水壶", "羊毛衫", "蓝牙音箱", "烤面包机", "保温杯"),
}
NAMES = {
    "en": ("Maria Garcia", "John Okafor", "Aisha Patel", "Liam Murphy", "Sofia Rossi", "Kenji Tanaka"),
    "zh": ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "周婷"),
}
START = date(2026, 9, 1)


@dataclass(frozen=True)
class FollowUp:
    ticket: str
    intent: str
    language: str
    customer_name: str
    history: list[EarlierTicket]
    passages: list[Passage]
    reply: str
    order: str  # the earlier ticket's order id (the follow-up does not name it)
    promised: str  # the date our earlier reply promised, as written there


def written_date(day: date, language: str) -> str:
    return f"{day.month}月{day.day}日" if language == "zh" else f"{day.day} {day:%B}"


def _reply(
    situation: Situation,
    language: str,
    name: str,
    values: dict[str, str],
    passages: list[Passage],
    rng: random.Random,
) -> str:
    bodies = answering_bodies(situation.intent, passages, language) or [
        BY_INTENT_ZH.get(situation.intent, GENERIC_ZH)
        if language == "zh"
        else BY_INTENT.get(situation.intent, GENERIC)
    ]
    separator = "" if language == "zh" else " "
    middle = separator.join([situation.reference.format(**values), *bodies])
    parts = [greeting(name, language), middle, rng.choice(CLOSINGS[language]), SIGN_OFF[language]]
    return "\n\n".join(p for p in parts if p)


def _followup(
    situation: Situation, language: str, rng: random.Random, retrieve: Callable[[str], list[Passage]]
) -> FollowUp:
    name = rng.choice(NAMES[language])
    asked = START + timedelta(days=rng.randint(0, 80))
    promised = asked + timedelta(days=rng.randint(3, 7))
    values = {
        "order": f"NW-{rng.randint(10000, 99999)}",
        "item": rng.choice(ITEMS[language]),
        "days": str(rng.randint(5, 14)),
        "date": written_date(promised, language),
    }
    earlier_reply = "\n\n".join(
        [greeting(name, language), situation.promise.format(**values), SIGN_OFF[language]]
    )
    history = [
        EarlierTicket(
            day=asked.isoformat(),
            intent=situation.earlier_intent,
            ticket=rng.choice(situation.earlier).format(**values),
            reply=earlier_reply,
        )
    ]
    ticket = rng.choice(situation.followups).format(**values)
    passages = retrieve(ticket)
    reply = _reply(situation, language, name, values, passages, rng)
    return FollowUp(
        ticket, situation.intent, language, name, history, passages, reply, values["order"], values["date"]
    )


def demo_followups(
    *,
    retrieve: Callable[[str], list[Passage]],
    per_situation: int,
    seed: int,
    languages: tuple[str, ...] = ("en",),
) -> list[FollowUp]:
    """Seeded follow-ups, `per_situation` for each of the five situations in each language."""
    rng = random.Random(seed)
    situations = {"en": EN, "zh": ZH}
    return [
        _followup(situation, language, rng, retrieve)
        for _ in range(per_situation)
        for language in languages
        for situation in situations[language]
    ]


def references(draft: str, followup: FollowUp) -> dict[str, bool]:
    """Whether a draft names the earlier order and the promised date (as written, or "November 28")."""
    promised = {followup.promised}
    if followup.language == "en":
        day, month = followup.promised.split(" ", 1)
        promised.add(f"{month} {day}")
    return {"order": followup.order in draft, "promise": any(p in draft for p in promised)}


def followup_examples(followups: list[FollowUp]) -> list[Any]:
    """Training examples (services.trainer.generation.data.ReplyExample) with the history in the prompt."""
    from services.trainer.generation.data import ReplyExample

    return [
        ReplyExample(f.ticket, f.reply, f.intent, f.passages, f.customer_name, f.history) for f in followups
    ]
