"""The identifier a customer gives that a reply should repeat back — an error code, an order number, an
invoice number — and where it came from (the message itself, or a screenshot, PDF or voice message joined
under its `[Attachment …]` marker line, `shared.media.text`).

Used three times: the demo shop's agents acknowledge it in their replies (`demo_replies`), so the
generator learns to copy it from the prompt; the drafting workers give a clean draft that leaves it out a
second chance (`shared.drafting.resample`); `evaluate-generator` counts how often a draft repeats it.
English and Chinese; the most specific kind wins (error code, then order, then invoice).

A follow-up names no identifier ("Still nothing here."): the one to repeat is then the customer's newest
earlier ticket's — in our reply to it, else in the ticket — when that ticket came at most
`FOLLOW_UP_DAYS` before this one and is about the same intent (the history the prompt shows,
`shared.drafting.history`). A returning customer's new matter — a product question a day after a return —
is not a follow-up, and its draft is not pushed towards the old order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.drafting.prompt import EarlierTicket

ERROR = re.compile(
    r"\b(?i:error code|error)\s*[:：#]?\s*([A-Z]{1,4}-?\d{2,6}|\d{3,6})\b"
    r"|(?:错误代码|错误码|报错|错误|代码)\s*[:：]?\s*([A-Z]{1,4}-?\d{2,6}|\d{3,6})"
)
ORDER = re.compile(
    r"\b((?:NW|ORD)-\d{4,})\b"
    r"|(?i:\border(?: number| no\.?)?(?: is)?\s*[:#]?\s*#?)(\d{5,}|\d{2,3}(?:,\d{3})+)\b"
    r"|订单号?是?\s*[:：]?\s*([A-Z]{2,4}-\d{4,}|\d{5,})"
)
INVOICE = re.compile(r"\b(INV-\d{4}-\d{3,})\b")
KINDS = (("error", ERROR), ("order", ORDER), ("invoice", INVOICE))
FOLLOW_UP_DAYS = 30  # an earlier ticket this recent is what an id-less ticket follows up
MARKER = re.compile(r"^\[Attachment .*\((image|PDF|voice message|text|file)\)\]$", re.MULTILINE)


@dataclass(frozen=True)
class Reference:
    kind: str  # error | order | invoice
    value: str  # as the customer wrote it
    source: str  # message | image | PDF | voice message | text | file | history


def _source(text: str, position: int) -> str:
    """The attachment whose section holds `position`, or "message" for the ticket's own words."""
    source = "message"
    for marker in MARKER.finditer(text):
        if marker.start() > position:
            break
        source = marker.group(1)
    return source


def salient_reference(text: str) -> Reference | None:
    """The first error code, else order number, else invoice number in `text` (None: the ticket has none)."""
    for kind, pattern in KINDS:
        for match in pattern.finditer(text):
            group = next(g for g in range(1, (pattern.groups or 0) + 1) if match.group(g))
            return Reference(kind, match.group(group), _source(text, match.start(group)))
    return None


def cites(draft: str, reference: Reference) -> bool:
    """Whether `draft` repeats the identifier (case aside; a number a transcript grouped, "48,213", also
    written as "48213")."""
    value, text = reference.value.casefold(), draft.casefold()
    return value in text or ("," in value and value.replace(",", "") in text)


def followup_reference(
    history: Sequence[EarlierTicket], *, today: date | None = None, intent: str | None = None
) -> Reference | None:
    """The identifier of the newest earlier ticket (our reply's first, else the customer's), if that ticket
    is at most `FOLLOW_UP_DAYS` older than `today` and of this ticket's `intent` (None: not checked)."""
    if not history:
        return None
    newest = history[0]
    if today is not None and (today - date.fromisoformat(newest.day)).days > FOLLOW_UP_DAYS:
        return None
    if intent is not None and newest.intent is not None and newest.intent != intent:
        return None
    found = salient_reference(newest.reply or "") or salient_reference(newest.ticket)
    return Reference(found.kind, found.value, "history") if found else None


def repeats_reference(
    ticket: str,
    history: Sequence[EarlierTicket] = (),
    *,
    today: date | None = None,
    intent: str | None = None,
) -> Callable[[Any], bool] | None:
    """For the drafts of `ticket`: whether a generation repeats its identifier back — or, when it names
    none, the identifier of the earlier ticket it follows up (None: there is nothing to repeat)."""
    reference = salient_reference(ticket) or followup_reference(history, today=today, intent=intent)
    if reference is None:
        return None
    return lambda generation: cites(generation.text, reference)
