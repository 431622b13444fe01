"""A short brief for the agent who takes an escalated ticket, written into the helpdesk note.

Every line is traceable: what the customer asks is their own sentences (PII-redacted); the facts are
extracted from the ticket text by pattern (order and reference ids, amounts, dates, durations), each
quoted as written; earlier tickets are this customer's own (same customer id, else same e-mail), with
their intent and how they were resolved; suggested articles are the ones the draft cited. English and
Chinese.

The models' part is marked as theirs: where the classifier is unsure (top intent below `UNSURE`, or out of
scope) its runners-up with their probabilities, so the agent sees what it hesitated between; and the gist
of the generator's draft — only a draft the guardrails passed (every id, figure and date in it is in the
ticket, the customer's history or a cited article), else which checks withheld it. Nothing is generated for
the brief itself, so nothing in it can be invented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shared.drafting.guardrails import AMOUNT, REFERENCE
from shared.drafting.history import Earlier, day, earlier_tickets
from shared.drafting.models import Draft
from shared.pii import redact
from shared.pii_zh import normalise_width
from shared.tickets.models import Ticket, TriageResult

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATE = re.compile(
    rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th)? {_MONTHS}(?: \d{{4}})?\b|\b{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?(?:,? "
    rf"\d{{4}})?\b"
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\d{1,2}月\d{1,2}[日号]"
    r"|(?i:\b(?:last|this|next) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|month)\b)"
)
DURATION = re.compile(
    r"(?i)\b(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few) "
    r"(?:working |business )?(?:days?|weeks?|months?|hours?)\b"
    r"|[\d一二两三四五六七八九十几]+ ?(?:个)?(?:天|周|星期|个月|小时|工作日)"
)
ASKS = re.compile(
    r"(?i)\?|？|\b(?:please|i want|i would like|i'd like|can you|could you|i need|kindly)\b|请|我要|麻烦|能"
    r"不能|可以.*吗|吗"
)
UNSURE = 0.8  # below this top probability the brief shows what else the classifier considered
GIST_CHARS = 240
_GREETING = re.compile(
    r"(?i)^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b.{0,40}[,，!]?$|^.{0,20}您好[，,！!]?$"
)
_SENTENCE = re.compile(r"(?<=[!?。！？])\s*|(?<=\.)(?!\d)\s*|\n+")  # "59.90" is not a sentence end


@dataclass(frozen=True)
class Fact:
    kind: str  # order/reference, amount, date, duration
    text: str  # as the customer wrote it


def extract_facts(text: str) -> list[Fact]:
    """Ids, amounts, dates and durations as written in `text` (never e-mails or phone numbers)."""
    text = redact(normalise_width(text))
    found: list[Fact] = []
    for kind, pattern in (
        ("reference", REFERENCE),
        ("amount", AMOUNT),
        ("date", DATE),
        ("duration", DURATION),
    ):
        for match in pattern.finditer(text):
            value = match.group(0).strip()
            if value and Fact(kind, value) not in found and not any(value in f.text for f in found):
                found.append(Fact(kind, value))
    return found


def customer_asks(text: str, *, limit: int = 2) -> list[str]:
    """The customer's own sentences that ask for something (else the first one), redacted, clipped."""
    sentences = [s.strip() for s in _SENTENCE.split(redact(text)) if s and len(s.strip()) > 3]
    asks = [s for s in sentences if ASKS.search(s)] or sentences[:1]
    return [s if len(s) <= 200 else s[:197] + "..." for s in asks[:limit]]


def previous_tickets(session: Session, ticket: Ticket, *, retention_days: float) -> list[str]:
    """This customer's earlier tickets (newest first, at most three, within the retention window): date,
    predicted intent, and the resolution's final intent when there is one."""
    return [_history_line(e) for e in earlier_tickets(session, ticket, retention_days=retention_days)]


def _history_line(earlier: Earlier) -> str:
    intent = earlier.result.label if earlier.result else "not classified"
    resolution = earlier.resolution
    outcome = (
        f"resolved as {resolution.final_labels.get('label', 'no label')} on {day(resolution.resolved_at)}"
        if resolution
        else "not resolved"
    )
    return f"{day(earlier.ticket.received_at)} · {intent} · {outcome} · ticket {earlier.ticket.external_id}"


def classifier_doubt(result: TriageResult) -> str | None:
    """What the classifier hesitated between (None when it was sure of an intent it knows)."""
    if result.confidence >= UNSURE and not result.out_of_scope:
        return None
    ranked = ", ".join(f"{label} {p:.0%}" for label, p in (result.top_k or [])[:3])
    if result.out_of_scope:
        return "none of the known intents fits (out of scope)" + (f"; nearest: {ranked}" if ranked else "")
    return f"unsure between {ranked}"


def draft_gist(draft: Draft | None) -> str | None:
    """The generator's answer in a sentence or two (its greeting and sign-off left out), only for a draft the
    guardrails passed; for a withheld one, the checks that withheld it."""
    if draft is None:
        return None
    flags = ", ".join(draft.flags)
    if draft.source != "model":
        return f"model's draft withheld ({flags}): the reply below is the template" if flags else None
    if flags:
        return f"model's draft flagged ({flags}): check the reply below before using it"
    paragraphs = [p.strip() for p in draft.text.split("\n\n") if p.strip()]
    if paragraphs and _GREETING.match(paragraphs[0]):
        paragraphs = paragraphs[1:]
    if not paragraphs:
        return None
    sentences = [s.strip() for s in _SENTENCE.split(paragraphs[0]) if s.strip()][:2]
    gist = ("" if _is_chinese(paragraphs[0]) else " ").join(sentences)
    gist = gist if len(gist) <= GIST_CHARS else gist[: GIST_CHARS - 3] + "..."
    return f"model's answer: “{gist}”"


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def agent_brief(
    *, ticket: Ticket, result: TriageResult, history: list[str], draft: Draft | None
) -> list[str]:
    """The brief's lines for the escalation note."""
    sentiment = (result.heads or {}).get("sentiment", {}).get("label")
    lines = ["Brief for the agent:"]
    lines += [f"- Asks: “{sentence}”" for sentence in customer_asks(ticket.text)]
    lines.append(f"- Intent: {result.label}" + (f" · sentiment: {sentiment}" if sentiment else ""))
    doubt = classifier_doubt(result)
    if doubt:
        lines.append(f"- Classifier: {doubt}")
    facts = extract_facts(ticket.text)
    if facts:
        lines.append("- From the ticket: " + "; ".join(f"{f.kind} “{f.text}”" for f in facts[:8]))
    lines += [f"- Earlier ticket: {line}" for line in history] or [
        "- Earlier tickets: none from this customer"
    ]
    if draft is not None and draft.citations:
        lines.append("- Suggested articles: " + ", ".join(draft.citations))
    gist = draft_gist(draft)
    if gist:
        lines.append(f"- Generator: {gist}")
    return lines
