"""Checks on a generated draft before anyone may send it.

- grounded: every URL, e-mail, phone number, order/reference id, amount and number in the draft must
  appear in the ticket or in a cited article; otherwise the draft is `ungrounded` (never auto-sent);
- no echo of the customer's personal data (e-mail, phone, card, IBAN) from the ticket;
- not empty and not degenerate (repetition loops, a phrase repeated over and over);
- in the customer's language: a draft the language detector confidently places in another language than
  the ticket (an English reply to a Chinese ticket) is `wrong_language`.

Chinese drafts are checked alike: a number glued to Chinese characters ("请在3个工作日内", "退还59.90元")
is still an item, full-width digits count as ASCII, and ¥/元/块/人民币 amounts are amounts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from shared.pii import find_pii
from shared.pii_zh import WORD, normalise_width

URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# boundaries are "not a Latin word character" (WORD), so Chinese characters around an item don't hide it
REFERENCE = re.compile(
    rf"(?<!-)(?<!{WORD})(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+|#\d{{3,}}"
)
AMOUNT = re.compile(
    r"(?:[$€£¥￥]\s?\d[\d,]*(?:\.\d+)?"
    r"|\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|CNY|RMB|dollars|euros|pounds|元|块|人民币))"
)
NUMBER = re.compile(rf"(?<![.])(?<!{WORD})\d+(?:[.,]\d+)*(?!{WORD})")
MIN_CHARS = 20


class Flag:
    UNGROUNDED = "ungrounded"
    PII_ECHO = "pii_echo"
    EMPTY = "empty"
    DEGENERATE = "degenerate"
    WRONG_LANGUAGE = "wrong_language"
    LANGUAGE_NOT_SERVED = "language_not_served"  # the generator does not write it: not asked at all


@dataclass(frozen=True)
class GuardrailReport:
    flags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.flags


def _strip_trailing(text: str) -> str:
    return text.rstrip(".,;:!?")


def _number_key(text: str) -> str:
    digits = re.sub(r"[^\d.]", "", text.replace(",", ""))
    return digits.rstrip("0").rstrip(".") if "." in digits else digits


def grounding_items(text: str) -> list[tuple[str, str, str]]:
    """(kind, shown text, comparison key) for every checkable item, URLs and e-mails first so their
    digits are not checked again as numbers."""
    items: list[tuple[str, str, str]] = []
    rest = normalise_width(text)
    for kind, pattern in (("url", URL), ("email", EMAIL)):
        for match in pattern.finditer(rest):
            items.append((kind, _strip_trailing(match.group(0)), _strip_trailing(match.group(0)).lower()))
        rest = pattern.sub(" ", rest)
    for match in REFERENCE.finditer(rest):
        items.append(("reference", match.group(0), match.group(0).lower().lstrip("#")))
    rest = REFERENCE.sub(" ", rest)
    for match in AMOUNT.finditer(rest):
        items.append(("amount", match.group(0), _number_key(match.group(0))))
    rest = AMOUNT.sub(" ", rest)
    for match in NUMBER.finditer(rest):
        items.append(("number", match.group(0), _number_key(match.group(0))))
    return items


def _known_keys(texts: list[str]) -> set[str]:
    keys = set()
    for text in texts:
        for _, shown, key in grounding_items(text):
            keys.add(key)
            keys.update(_number_key(n) for n in NUMBER.findall(shown))  # "NW-12345" also grounds "12345"
    return keys


def ungrounded_items(draft: str, *, sources: list[str]) -> list[str]:
    known = _known_keys(sources)
    return [f"{kind} {shown!r}" for kind, shown, key in grounding_items(draft) if key not in known]


def echoed_pii(draft: str, *, ticket_text: str) -> list[str]:
    """The ticket's personal data that reappears in the draft (kinds only: the reason is stored)."""
    ticket_keys = {m.key: m.kind for m in find_pii(ticket_text)}
    return sorted({ticket_keys[m.key] for m in find_pii(draft) if m.key in ticket_keys})


def degenerate_reason(draft: str) -> str | None:
    words = re.findall(r"\w+", draft.lower())
    if len(words) >= 12:
        grams = Counter(zip(words, words[1:], words[2:], words[3:], strict=False))
        repeated = sum(count - 1 for count in grams.values() if count > 1)
        if repeated / max(len(words) - 3, 1) > 0.3:
            return f"{repeated} repeated 4-grams in {len(words)} words"
    lines = [line.strip().lower() for line in draft.splitlines() if line.strip()]
    common = Counter(lines).most_common(1)
    if common and common[0][1] >= 3 and len(common[0][0]) > 3:
        return f"a line repeated {common[0][1]} times"
    if re.search(r"(\b\w+\b)(?:\W+\1\b){4,}", draft, re.IGNORECASE):
        return "a word repeated 5 times in a row"
    return None


def language_mismatch(draft: str, language: str | None) -> str | None:
    """Why the draft is not in `language` (the ticket's), or None when it is or either cannot be told."""
    from shared.runtime.language import detect_language

    if not language:
        return None
    detected = detect_language(draft).language
    if detected is None or detected == language:
        return None
    return f"the ticket is in {language}, the draft in {detected}"


def check_draft(
    draft: str, *, ticket_text: str, cited_articles: list[str], language: str | None = None
) -> GuardrailReport:
    """All flags that apply, with a readable reason for each (`language`: the ticket's, when known)."""
    flags: list[str] = []
    reasons: list[str] = []
    if len(draft.strip()) < MIN_CHARS:
        return GuardrailReport([Flag.EMPTY], [f"draft has {len(draft.strip())} characters"])
    mismatch = language_mismatch(draft, language)
    if mismatch:
        flags.append(Flag.WRONG_LANGUAGE)
        reasons.append(mismatch)
    degenerate = degenerate_reason(draft)
    if degenerate:
        flags.append(Flag.DEGENERATE)
        reasons.append(degenerate)
    missing = ungrounded_items(draft, sources=[ticket_text, *cited_articles])
    if missing:
        flags.append(Flag.UNGROUNDED)
        reasons.append("not in the ticket or a cited article: " + ", ".join(missing[:10]))
    echoed = echoed_pii(draft, ticket_text=ticket_text)
    if echoed:
        flags.append(Flag.PII_ECHO)
        reasons.append("repeats the customer's " + ", ".join(echoed))
    return GuardrailReport(flags, reasons)
