"""The drafting prompt, shared by training and serving so both see exactly the same text.

SmolLM2-Instruct speaks ChatML; we render it here (the worker has `tokenizers` but not transformers'
chat templates); a trainer test checks the rendering against the tokenizer's own template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYSTEM = (
    "You are a helpful customer-support agent for {company}. Write the reply to the customer's ticket. "
    "Use only facts from the context below; never invent order numbers, amounts, dates, phone numbers or "
    "links. If the context does not answer the question, say that a colleague will follow up."
)
DEFAULT_COMPANY = "Northwind Goods"
MAX_PASSAGE_WORDS = 120
MAX_TICKET_WORDS = 250
MAX_HISTORY = 2  # earlier tickets of the same customer in a prompt, newest first
MAX_EARLIER_TICKET_WORDS = 50
MAX_EARLIER_REPLY_WORDS = 80
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana, CJK ideographs
CJK = re.compile(f"[{CJK_CHARS}]")
UNIT = re.compile(f"[{CJK_CHARS}]|[^\\s{CJK_CHARS}]+")  # one ideograph, or a run of other non-spaces
# the reply's language, named last in the prompt (a bundle trained so says `prompt_language` in its config):
# a Chinese ticket from "Alex Doe" must get a Chinese reply, whatever the name suggests
REPLY_LANGUAGES = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "th": "Thai",
    "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese (简体中文)",
}  # fmt: skip


@dataclass(frozen=True)
class Passage:
    """A piece of context: a knowledge-base chunk or a reply to a similar resolved ticket."""

    source_id: str
    title: str
    text: str
    url: str | None = None  # the article's public address: a draft may link it

    def cited_text(self) -> str:
        """What a draft citing this passage may take facts from (guardrails): its text and its link."""
        return f"{self.text}\n{self.url}" if self.url else self.text


@dataclass(frozen=True)
class EarlierTicket:
    """One of the customer's earlier tickets as the prompt shows it (texts already PII-redacted)."""

    day: str  # YYYY-MM-DD it arrived
    intent: str | None
    ticket: str
    reply: str | None = None  # the agent's final reply, when it was resolved with one

    def shown(self) -> tuple[str, str | None]:
        """(ticket, reply) as the prompt shows them: each on one line, clipped."""
        ticket = _clip(" ".join(self.ticket.split()), MAX_EARLIER_TICKET_WORDS)
        reply = _clip(" ".join(self.reply.split()), MAX_EARLIER_REPLY_WORDS) if self.reply else None
        return ticket, reply

    def grounding_text(self) -> str:
        """What a draft may take facts (an order id, a promised date) from: what the prompt showed."""
        ticket, reply = self.shown()
        return f"{ticket}\n{reply or ''}"


def _history_block(history: list[EarlierTicket]) -> str:
    lines = ["Earlier tickets from this customer (newest first):"]
    for earlier in history[:MAX_HISTORY]:
        ticket, reply = earlier.shown()
        lines.append(f"- {earlier.day} (intent: {earlier.intent or 'unknown'}): {ticket}")
        lines.append(f"  Our reply: {reply or '(not answered yet)'}")
    return "\n".join(lines) + "\n\n"


def _clip(text: str, words: int) -> str:
    """The first `words` words. Text with Chinese or Japanese, which has no spaces, is cut after
    `2 × words` units (an ideograph, or a run of other non-space characters), so that a long Chinese
    ticket cannot flood the prompt."""
    if CJK.search(text) is None:
        parts = text.split()
        return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
    units = list(UNIT.finditer(text))
    if len(units) <= 2 * words:
        return text.strip()
    return text[: units[2 * words - 1].end()].strip() + " ..."


def build_messages(
    *,
    ticket: str,
    intent: str | None,
    passages: list[Passage],
    company: str = DEFAULT_COMPANY,
    customer_name: str | None = None,
    history: list[EarlierTicket] | None = None,
    language: str | None = None,
) -> list[dict[str, str]]:
    """`customer_name`: who wrote the ticket, so the reply greets them and nobody else; `history`: the
    same customer's earlier tickets and our replies (a follow-up's answer depends on what we promised);
    `language`: the language the reply must be written in (ISO 639-1), named after the ticket."""
    context = "\n\n".join(
        f"[{i}] {p.title}: {_clip(p.text, MAX_PASSAGE_WORDS)}" for i, p in enumerate(passages, start=1)
    )
    user = (
        f"Context:\n{context or '(none)'}\n\n"
        f"{_history_block(history) if history else ''}"
        f"Ticket{f' from {customer_name.strip()}' if customer_name and customer_name.strip() else ''} "
        f"(intent: {intent or 'unknown'}):\n{_clip(ticket, MAX_TICKET_WORDS)}"
    )
    if language in REPLY_LANGUAGES:
        user += f"\n\nWrite the reply in {REPLY_LANGUAGES[language]}."
    return [{"role": "system", "content": SYSTEM.format(company=company)}, {"role": "user", "content": user}]


def render_chatml(messages: list[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def build_prompt(
    *,
    ticket: str,
    intent: str | None,
    passages: list[Passage],
    company: str = DEFAULT_COMPANY,
    customer_name: str | None = None,
    history: list[EarlierTicket] | None = None,
    language: str | None = None,
) -> str:
    messages = build_messages(
        ticket=ticket,
        intent=intent,
        passages=passages,
        company=company,
        customer_name=customer_name,
        history=history,
        language=language,
    )
    return render_chatml(messages)
