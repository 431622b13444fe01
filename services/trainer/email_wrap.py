"""An e-mail test set from one-line benchmark texts: each text becomes the new message of a realistic thread.

Every wrapped ticket keeps its text's labels and gets, around it, what real e-mails carry: a greeting, a
signature (a name, a company line, a phone number), sometimes a legal footer, and — what makes it hard — the
quoted earlier message, which is *another* test text with a different label, in one of the formats mail
clients write (Gmail's "On … wrote:" with `>` lines, Outlook's "-----Original Message-----" and header
block, a forwarded message, a German client's "Am … schrieb", a Chinese client's "原始邮件" / "写道：", an
HTML body with a quote block). Seeded: the same seed gives the same set. `helploop benchmark` reports the
model on the plain texts, on the wrapped e-mails as today's pipeline would read them (raw), and as the
product reads them (through `shared.tickets.normalise`).
"""

from __future__ import annotations

import html
import random
import re

from services.trainer.data import Example

NAMES = ["Sam Lee", "Priya Nair", "Tom Becker", "Ana Souza", "Kevin Zhang", "Laura Rossi", "Omar Haddad"]
NAMES_ZH = ["张伟", "王芳", "李娜", "刘洋", "陈静"]
GREETINGS = ["Hi,", "Hello,", "Hi there,", "Dear support team,", "Good morning,", ""]
GREETINGS_ZH = ["您好，", "你好，", "客服您好：", ""]
SIGN_OFFS = ["Thanks,", "Best regards,", "Kind regards,", "Cheers,", "Many thanks,"]
SIGN_OFFS_ZH = ["谢谢，", "此致，", "祝好，"]
FOOTERS = [
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended solely for the "
    "addressee. If you have received it in error, please delete it and notify the sender.",
    "Disclaimer: This message may contain privileged information. Any unauthorised use is prohibited.",
    "Please consider the environment before printing this e-mail.",
]
_CJK = re.compile(r"[\u3400-\u9fff]")


def _quote_gmail(name: str, old: str, rng: random.Random) -> str:
    day = rng.randint(1, 28)
    quoted = "\n".join(f"> {line}" for line in old.split("\n"))
    return (
        f"On Mon, {day} Nov 2026 at 10:{rng.randint(10, 59)}, {name} <customer@example.com> wrote:\n{quoted}"
    )


def _quote_outlook(name: str, old: str, rng: random.Random) -> str:
    return (
        f"-----Original Message-----\nFrom: {name} <customer@example.com>\nSent: Monday, "
        f"{rng.randint(1, 28)} November 2026 09:14\nTo: support@northwind.example\n"
        f"Subject: my account\n\n{old}"
    )


def _quote_forward(name: str, old: str, rng: random.Random) -> str:
    return (
        f"---------- Forwarded message ---------\nFrom: {name} <customer@example.com>\nDate: Tue, "
        f"{rng.randint(1, 28)} Oct 2026\nSubject: question\nTo: support@northwind.example\n\n{old}"
    )


def _quote_german(name: str, old: str, rng: random.Random) -> str:
    quoted = "\n".join(f"> {line}" for line in old.split("\n"))
    return f"Am {rng.randint(1, 28)}.11.2026 um 10:02 schrieb {name} <customer@example.com>:\n{quoted}"


def _quote_chinese(name: str, old: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return (
            f'------------------ 原始邮件 ------------------\n发件人: "{name}"<customer@example.com>\n'
            f'发送时间: 2026年11月{rng.randint(1, 28)}日 上午10:02\n收件人: "客服"\n主题: 咨询\n\n{old}'
        )
    quoted = "\n".join(f"> {line}" for line in old.split("\n"))
    return f"在 2026年11月{rng.randint(1, 28)}日 10:02，{name} <customer@example.com> 写道：\n{quoted}"


QUOTES = [_quote_gmail, _quote_outlook, _quote_forward, _quote_german]


def wrap_text(text: str, other: str, rng: random.Random) -> str:
    """`text` as the new message of an e-mail that quotes `other` below a signature (and maybe a footer)."""
    chinese = bool(_CJK.search(text))
    name = rng.choice(NAMES_ZH if chinese else NAMES)
    greeting = rng.choice(GREETINGS_ZH if chinese else GREETINGS)
    sign_off = rng.choice(SIGN_OFFS_ZH if chinese else SIGN_OFFS)
    signature = f"{sign_off}\n{name}"
    if rng.random() < 0.6:
        signature += f"\nNorthwind customer since 2019 | +44 20 7946 {rng.randint(1000, 9999)}"
    if chinese and rng.random() < 0.5:
        signature = "发自我的iPhone"
    quote = _quote_chinese if chinese else rng.choice(QUOTES)
    parts = [p for p in (greeting, text, signature) if p]
    if rng.random() < 0.3:
        parts.append(rng.choice(FOOTERS))
    message = "\n\n".join(parts)
    thread = f"{message}\n\n{quote(name, other, rng)}"
    if not chinese and rng.random() < 0.15:  # an HTML body with Gmail's quote block
        body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in parts)
        old = html.escape(other)
        quote_block = f'<div class="gmail_quote">On Mon, {name} wrote:<blockquote>{old}</blockquote></div>'
        thread = f"<html><body>{body}{quote_block}</body></html>"
    return thread


def quote_below(new: str, earlier: str, *, name: str, rng: random.Random) -> str:
    """`new` above `earlier`, quoted as a mail client of `new`'s language writes a reply."""
    quote = _quote_chinese if _CJK.search(new) else rng.choice(QUOTES)
    return f"{new}\n\n{quote(name, earlier, rng)}"


def wrap_examples(examples: list[Example], *, seed: int = 13) -> list[Example]:
    """Each example wrapped in a thread quoting another example with a different first label."""
    rng = random.Random(seed)
    wrapped = []
    for example in examples:
        others = [e for e in rng.sample(examples, min(len(examples), 8)) if e.label != example.label]
        other = others[0].text if others else ""
        wrapped.append(Example(wrap_text(example.text, other, rng), dict(example.labels)))
    return wrapped
