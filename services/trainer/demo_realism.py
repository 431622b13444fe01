"""The demo shop's tickets as a real inbox holds them: layered over the templated tickets of `demo_data` and
`demo_data_zh`, seeded, in both languages.

The templates alone are too easy — a model fine-tuned on them is sure of every ticket, a mixed message
included. A real inbox also has:
- **e-mail threads**: the customer replies above an earlier message that asked for something else, quoted
  the way their mail client writes it (Gmail, Outlook, forwarded, German, Chinese clients; the formats of
  `email_wrap`); the normaliser reads the new message, as it does for real tickets;
- **two requests in one ticket**, of equal weight: agents file such a ticket under either request, so its
  label is one of the two, drawn at random — no model can be sure of it, and a calibrated one is not;
- **vague tickets** that say almost nothing beyond the subject ("please call me back about this"): the
  label is what the agent found out later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from services.trainer.demo_data import DemoTicket
from services.trainer.email_wrap import quote_below

_CONNECTIVES = ("Also, a separate question:", "And one more thing -", "Second issue:", "While I'm at it:")
_CONNECTIVES_ZH = ("另外还有一个问题：", "还有，", "顺便问一下，", "第二件事：")
_VAGUE = (
    "Please call me back about this, it's urgent.",
    "Can someone look into this for me? Thanks.",
    "I have a problem, please help.",
    "Still waiting to hear back about this.",
    "Hi, is anyone there? Need help asap",
)
_VAGUE_ZH = (
    "请尽快回电话给我，谢谢。",
    "麻烦帮我看一下这个问题。",
    "有问题，请帮忙处理。",
    "还在等你们回复。",
)


@dataclass(frozen=True)
class Realism:
    """The share of tickets each layer rewrites (at most one layer per ticket)."""

    threads: float = 0.15
    two_requests: float = 0.08
    vague: float = 0.03

    def __post_init__(self) -> None:
        shares = (self.threads, self.two_requests, self.vague)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"realism shares must be >= 0 and sum to <= 1, got {shares}")


def _chinese(ticket: DemoTicket) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in ticket.text)


def _core(ticket: DemoTicket) -> str:
    """The ticket's longest paragraph: its request, without greeting or sign-off."""
    return max(ticket.body.split("\n\n" if "\n\n" in ticket.body else "\n"), key=len).strip()


def _thread(ticket: DemoTicket, other: DemoTicket, rng: random.Random) -> DemoTicket:
    body = quote_below(ticket.body, other.body, name=other.customer_name, rng=rng)  # signed as quoted
    replied = ticket.subject.lower().startswith(("re:", "fwd:", "回复")) or rng.random() < 0.3
    subject = ticket.subject if replied else ("回复：" if _chinese(ticket) else "Re: ") + ticket.subject
    return replace(ticket, subject=subject, body=body, text=f"{subject}\n\n{body}")


def _two_requests(ticket: DemoTicket, other: DemoTicket, rng: random.Random) -> DemoTicket:
    chinese = _chinese(ticket)
    connective = rng.choice(_CONNECTIVES_ZH if chinese else _CONNECTIVES)
    second = connective + ("" if chinese else " ") + _core(other)
    core = _core(ticket)  # the second request right after the first, above any sign-off
    body = ticket.body.replace(core, f"{core}\n\n{second}", 1)
    filed = ticket if rng.random() < 0.5 else other  # the agent files it under either request
    labels = {"label": filed.label, "sentiment": filed.sentiment, "priority": filed.priority}
    return replace(ticket, body=body, text=f"{ticket.subject}\n\n{body}", **labels)


def _vague(ticket: DemoTicket, rng: random.Random) -> DemoTicket:
    body = rng.choice(_VAGUE_ZH if _chinese(ticket) else _VAGUE)
    return replace(ticket, body=body, text=f"{ticket.subject}\n\n{body}")


def apply_realism(tickets: list[DemoTicket], realism: Realism, *, seed: int) -> list[DemoTicket]:
    """`tickets` with the layers of `realism` applied (same order, same count); a thread or a second request
    comes from another ticket of the same language with a different intent."""
    rng = random.Random(seed * 7919 + 1)
    by_language: dict[bool, list[DemoTicket]] = {}
    for ticket in tickets:
        by_language.setdefault(_chinese(ticket), []).append(ticket)
    rewritten = []
    for ticket in tickets:
        roll = rng.random()
        if roll >= realism.threads + realism.two_requests + realism.vague:
            rewritten.append(ticket)
            continue
        if roll >= realism.threads + realism.two_requests:
            rewritten.append(_vague(ticket, rng))
            continue
        pool = by_language[_chinese(ticket)]
        other = next((o for o in rng.sample(pool, min(len(pool), 8)) if o.label != ticket.label), None)
        if other is None:
            rewritten.append(ticket)
        elif roll < realism.threads:
            rewritten.append(_thread(ticket, other, rng))
        else:
            rewritten.append(_two_requests(ticket, other, rng))
    return rewritten
