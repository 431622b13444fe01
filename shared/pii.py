"""Detect personal data in text: e-mail addresses, phone numbers, payment cards (Luhn-checked) and IBANs
(mod-97 checked). Used by the draft guardrails (never echo a customer's data) and by redaction."""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\d[\d ()./-]{6,}\d(?![\w])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # "email", "phone", "card", "iban"
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """A normal form to compare occurrences: lower-case e-mail, digits/characters only otherwise."""
        if self.kind == "email":
            return self.text.lower()
        return re.sub(r"[^0-9A-Z]", "", self.text.upper())


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _phone_like(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 7 <= len(digits) <= 15 and not re.fullmatch(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}", text.strip())


def find_pii(text: str) -> list[PiiMatch]:
    """Every match, longest kinds first: a card number is not also reported as a phone number."""
    found: list[PiiMatch] = []
    taken: list[range] = []

    def add(kind: str, match: re.Match[str]) -> None:
        if any(match.start() in span or match.end() - 1 in span for span in taken):
            return
        found.append(PiiMatch(kind, match.group(0), match.start(), match.end()))
        taken.append(range(match.start(), match.end()))

    for match in EMAIL.finditer(text):
        add("email", match)
    for match in IBAN.finditer(text):
        if iban_valid(match.group(0)):
            add("iban", match)
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            add("card", match)
    for match in PHONE.finditer(text):
        if _phone_like(match.group(0)):
            add("phone", match)
    return sorted(found, key=lambda m: m.start)


def redact(text: str, *, placeholder: str = "[{kind}]") -> str:
    """Replace every detected item with a typed placeholder, e.g. "[email]"."""
    out, last = [], 0
    for match in find_pii(text):
        out.extend([text[last : match.start], placeholder.format(kind=match.kind)])
        last = match.end
    out.append(text[last:])
    return "".join(out)
