"""Checks on a generated draft before anyone may send it.

- grounded: every URL, e-mail, phone number, order/reference id, amount and number in the draft must
  appear in the ticket or in a cited article; otherwise the draft is `ungrounded` (never auto-sent);
- no echo of the customer's personal data (e-mail, phone, card, IBAN) from the ticket;
- not empty and not degenerate (repetition loops, a phrase repeated over and over);
- in the customer's language: a draft the language detector confidently places in another language than
  the ticket (an English reply to a Chinese ticket) is `wrong_language`;
- what it says (`shared.drafting.policy_checks`): no template placeholders, no "contact customer service"
  deflection, no promise or refusal of a refund, cancellation, compensation, replacement, delivery date or
  policy exception that no cited article supports, no figure contradicting a cited article.

Chinese drafts are checked alike: a number glued to Chinese characters ("请在3个工作日内", "退还59.90元")
is still an item, full-width digits count as ASCII, and ¥/元/块/人民币 amounts are amounts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from shared.drafting.policy_checks import (
    commitment_reasons,
    contradiction_reasons,
    deflection_reason,
    placeholder_reason,
)
from shared.drafting.prompt import CJK_CHARS
from shared.pii import find_pii
from shared.pii_zh import WORD, normalise_width

URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# boundaries are "not a Latin word character" (WORD), so Chinese characters around an item don't hide it
REFERENCE = re.compile(
    rf"(?<!-)(?<!{WORD})(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+|#\d{{3,}}"
    rf"|(?<!{WORD})(?=[A-Z0-9]*\d[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{{8,}}(?!{WORD})"  # 1Z999AA10123456784
)
MEASURE = re.compile(r"\d+(?:-[a-z]+)+")  # "3-year", "2-day": a number and its unit, checked as the number
LOOP_TOKEN = re.compile(f"[{CJK_CHARS}]|[^\\W{CJK_CHARS}]+")  # a Chinese character, or a word
CITATION_MARK = re.compile(r"\[\d{1,2}\]")  # "[1]": the prompt's passage numbers, not a fact
# "1. Log in", "2) Open", "(3) Pick", "4、选择": a step's number at the start of a line, not a fact
LIST_MARKER = re.compile(r"(?m)^[ \t]*(?:[-*][ \t]*)?\(?\d{1,2}(?:[.)](?=[ \t])|、)")
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
    PLACEHOLDER = "placeholder"
    DEFLECTION = "deflection"
    UNSUPPORTED_PROMISE = "unsupported_promise"
    UNSUPPORTED_REFUSAL = "unsupported_refusal"
    CONTRADICTION = "contradiction"
    WRONG_NAME = "wrong_name"  # greets someone who is not the customer
    UNTUNED_GENERATOR = "untuned_generator"  # the active generator was never fine-tuned: not asked at all


# what each content flag's reason starts with (the list of items follows)
CONTENT_FLAGS = (
    Flag.PLACEHOLDER,
    Flag.DEFLECTION,
    Flag.UNSUPPORTED_PROMISE,
    Flag.UNSUPPORTED_REFUSAL,
    Flag.CONTRADICTION,
    Flag.WRONG_NAME,
)
# a draft with any of these is never shown: the intent's template is stored in its place (flags kept)
UNUSABLE = frozenset(
    {
        Flag.EMPTY,
        Flag.DEGENERATE,
        Flag.WRONG_LANGUAGE,
        Flag.LANGUAGE_NOT_SERVED,
        Flag.UNTUNED_GENERATOR,
        *CONTENT_FLAGS,
    }
)
GREETING_NAME = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))[ ,]+(?P<name>[^\W\d_][\w'’-]*)"
    r"|^\s*(?P<name_zh>[\u4e00-\u9fff]{1,4}|[A-Za-z][\w'’-]*)[ ,，]?(?:您好|你好)",
    re.IGNORECASE,
)
ADDRESSEES = frozenset(
    [
        "there",
        "customer",
        "customers",
        "team",
        "sir",
        "madam",
        "all",
        "friend",
        "valued",
        "everyone",
        "hi",  # "Hi，您好" greets nobody by name
        "hello",
        "客户",
        "亲",
        "亲爱的",
    ]
)


def greeting_mismatch(draft: str, *, customer_name: str | None, ticket_text: str) -> str | None:
    """The name the draft greets when it is neither the customer's (as the helpdesk sent it) nor in the
    ticket; None when there is no greeting by name, or no customer name to compare with."""
    match = GREETING_NAME.search(draft)
    if not customer_name or match is None:
        return None
    name = match.group("name") or match.group("name_zh")
    if name.casefold() in ADDRESSEES or name.casefold() in f"{customer_name} {ticket_text}".casefold():
        return None
    return f"greets {name!r}; the customer is {customer_name!r}"


def text_weight(text: str) -> int:
    """Length in Latin letters' worth: a Chinese character carries about as much as three."""
    return len(text) + 2 * len(re.findall(r"[\u4e00-\u9fff]", text))


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
    rest = LIST_MARKER.sub(" ", CITATION_MARK.sub(" ", normalise_width(text)))
    for kind, pattern in (("url", URL), ("email", EMAIL)):
        for match in pattern.finditer(rest):
            items.append((kind, _strip_trailing(match.group(0)), _strip_trailing(match.group(0)).lower()))
        rest = pattern.sub(" ", rest)
    references = [m for m in REFERENCE.finditer(rest) if not MEASURE.fullmatch(m.group(0))]
    for match in references:
        items.append(("reference", match.group(0), match.group(0).lower().lstrip("#")))
    for match in reversed(references):
        rest = rest[: match.start()] + " " + rest[match.end() :]
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
    """Loops: repeated 4-grams of words (each Chinese character counts as a word: Chinese has no spaces),
    a line said three times, a word five times in a row."""
    words = LOOP_TOKEN.findall(draft.lower())
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


def content_findings(draft: str, *, ticket_text: str, cited_articles: list[str]) -> list[tuple[str, str]]:
    """(flag, reason) for what the draft says: placeholders, deflection, unsupported commitments,
    contradicted figures."""
    findings: list[tuple[str, str]] = []
    placeholder = placeholder_reason(draft)
    if placeholder:
        findings.append((Flag.PLACEHOLDER, placeholder))
    deflection = deflection_reason(draft)
    if deflection:
        findings.append((Flag.DEFLECTION, deflection))
    promises, refusals = commitment_reasons(draft, ticket_text=ticket_text, cited_articles=cited_articles)
    if promises:
        findings.append((Flag.UNSUPPORTED_PROMISE, "no cited article supports: " + "; ".join(promises)))
    if refusals:
        findings.append((Flag.UNSUPPORTED_REFUSAL, "no cited article says no to: " + "; ".join(refusals)))
    contradictions = contradiction_reasons(draft, ticket_text=ticket_text, cited_articles=cited_articles)
    if contradictions:
        findings.append((Flag.CONTRADICTION, "; ".join(contradictions[:3])))
    return findings


def check_draft(
    draft: str,
    *,
    ticket_text: str,
    cited_articles: list[str],
    language: str | None = None,
    customer_name: str | None = None,
    history: list[str] | None = None,
) -> GuardrailReport:
    """All flags that apply, with a readable reason for each (`language`: the ticket's, when known;
    `customer_name`: who the draft must greet, when known; `history`: the customer's earlier tickets and
    our replies shown in the prompt, which ground an order id or a date promised there)."""
    stripped = draft.strip()
    if text_weight(stripped) < MIN_CHARS:
        return GuardrailReport([Flag.EMPTY], [f"draft has {len(stripped)} characters"])
    findings: list[tuple[str, str | None]] = [
        (Flag.WRONG_LANGUAGE, language_mismatch(draft, language)),
        (Flag.DEGENERATE, degenerate_reason(draft)),
    ]
    missing = ungrounded_items(draft, sources=[ticket_text, *cited_articles, *(history or [])])
    if missing:
        where = (
            "the ticket, a cited article or the customer's earlier tickets"
            if history
            else ("the ticket or a cited article")
        )
        findings.append((Flag.UNGROUNDED, f"not in {where}: " + ", ".join(missing[:10])))
    echoed = echoed_pii(draft, ticket_text=ticket_text)
    if echoed:
        findings.append((Flag.PII_ECHO, "repeats the customer's " + ", ".join(echoed)))
    findings.extend(content_findings(draft, ticket_text=ticket_text, cited_articles=cited_articles))
    findings.append(
        (Flag.WRONG_NAME, greeting_mismatch(draft, customer_name=customer_name, ticket_text=ticket_text))
    )
    found = [(flag, reason) for flag, reason in findings if reason]
    return GuardrailReport([flag for flag, _ in found], [reason for _, reason in found])  # type: ignore[misc]
