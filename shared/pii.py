"""Detect personal data in text: e-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs
(mod-97 checked) and street addresses (English, German and French forms with a street word and a house
number). Used by the draft guardrails (never echo a customer's data), by redaction before tickets become
training data, and on log records. `shared/pii_testset.py` measures recall and precision."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\d[\d ()./-]{6,}\d(?![\w])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE
)  # typed by hand too
_EN_STREET = (
    r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|Blvd\.?|Way|Close|Court|Ct\.?"
    r"|Place|Pl\.?|Terrace|Square|Crescent|Parkway"
)
_DE_STREET = r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm"
_FR_STREET = r"rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai"
ADDRESSES = (
    # 221B Baker Street, 12 Mill Pond Rd
    re.compile(rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_EN_STREET})(?![A-Za-z])"),
    # Hauptstraße 5, Bahnhofstr. 12a, Am Marktplatz 3
    re.compile(
        rf"(?<![\w-])(?:[A-ZÄÖÜ][a-zäöüß]+(?:{_DE_STREET})|(?:Am|An der|Im|Auf dem) [A-ZÄÖÜ][a-zäöüß]+)"
        r"\s+\d{1,4}[a-z]?\b"
    ),
    # 12 rue de la Paix, 3 bis avenue Victor Hugo
    re.compile(
        rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:{_FR_STREET})\s+(?:(?:de|du|des|la|le|l'|d')\s*)*"
        r"[A-ZÀ-Ý][\w'-]+(?:\s+[A-ZÀ-Ý][\w'-]+)?"
    ),
)


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # "email", "phone", "card", "iban", "address"
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


SENTENCE_BREAK = re.compile(r"\.\s+")
# digit runs a phone pattern matches that are something else: a date (with or without a time), an IPv4 address
NOT_PHONE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}(?!\d)|\d{1,3}(?:\.\d{1,3}){3}$")


def _phone_like(text: str, before: str) -> bool:
    """7–15 digits written as a phone number is: with a leading +, 00 or (, with separators, or with a
    national 0 prefix; a bare run of digits or one after "#" is a reference or order number."""
    digits = re.sub(r"\D", "", text)
    stripped = text.strip() if "(" in text else text.strip().rstrip(")")  # "(ref 12345678)"
    if not 7 <= len(digits) <= 15 or before == "#" or NOT_PHONE.match(stripped):
        return False
    if stripped[0] in "+(" or stripped.startswith("00"):
        return True
    if len(digits) < 8:  # 555-1234 without an area code: more often a SKU or reference
        return False
    return bool(re.search(r"[ ()./-]", stripped)) or (stripped.startswith("0") and len(digits) >= 9)


def _iban_end(text: str, match: re.Match[str]) -> int | None:
    """Where a valid IBAN starting at `match` ends: the pattern may run into the next word ("… 6363 after"),
    so the longest prefix that passes mod-97 and ends at a word boundary, if any."""
    candidate = match.group(0)
    while len(candidate) >= 15:
        end = match.start() + len(candidate)
        if not text[end : end + 1].isalnum() and iban_valid(candidate):
            return end
        candidate = candidate[:-1].rstrip()
    return None


def _card_like(digits: str) -> bool:
    """13–19 digits, an issuer's first digit (2–6: Mastercard, Amex/Diners/JCB, Visa, Mastercard, Discover)
    and a valid Luhn check digit."""
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


Detector = Callable[[str], list["PiiMatch"]]
_detectors: list[Detector] = []  # more kinds (names, places) from plug-ins such as Presidio


def register_detector(detect: Detector) -> None:
    """Add a detector whose matches join the built-in ones (where they do not overlap them)."""
    if detect not in _detectors:
        _detectors.append(detect)


@cache
def presidio_detector(language: str = "en") -> Detector | None:
    """Microsoft Presidio's analyzer (names, locations, …) where `presidio-analyzer` and its spaCy model are
    installed; None otherwise. `HELPLOOP_PII_PRESIDIO=true` registers it in every helploop process."""
    try:
        from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found]

        engine = AnalyzerEngine()
    except Exception as exc:  # not installed, or no language model
        logging.getLogger(__name__).warning("Presidio unavailable: %s", exc)
        return None

    def detect(text: str) -> list[PiiMatch]:
        results = engine.analyze(text=text, language=language)
        return [PiiMatch(r.entity_type.lower(), text[r.start : r.end], r.start, r.end) for r in results]

    return detect


def find_pii(text: str) -> list[PiiMatch]:
    """Every match, longest kinds first: a card number is not also reported as a phone number."""
    found: list[PiiMatch] = []
    taken: list[range] = []

    def add(kind: str, match: re.Match[str], end: int | None = None, *, start: int | None = None) -> None:
        start, end = (match.start() if start is None else start), (match.end() if end is None else end)
        if any(start in span or end - 1 in span for span in taken):
            return
        found.append(PiiMatch(kind, text[start:end], start, end))
        taken.append(range(start, end))

    for match in EMAIL.finditer(text):
        add("email", match)
    for match in IBAN.finditer(text):
        if (end := _iban_end(text, match)) is not None:
            add("iban", match, end)
    for match in CARD.finditer(text):
        if _card_like(re.sub(r"\D", "", match.group(0))):
            add("card", match)
    for pattern in ADDRESSES:
        for match in pattern.finditer(text):
            add("address", match)
    for match in PHONE.finditer(text):
        for piece in SENTENCE_BREAK.split(match.group(0)):  # "version 2.10. 0044 7001 …" is two runs
            offset = match.start() + match.group(0).index(piece)
            if piece and _phone_like(piece, text[offset - 1 : offset]):
                add("phone", match, offset + len(piece), start=offset)
    for detect in _detectors:
        for extra in detect(text):
            if not any(extra.start in span or extra.end - 1 in span for span in taken):
                found.append(extra)
                taken.append(range(extra.start, extra.end))
    return sorted(found, key=lambda m: m.start)


def redact(text: str, *, placeholder: str = "[{kind}]") -> str:
    """Replace every detected item with a typed placeholder, e.g. "[email]"."""
    out, last = [], 0
    for match in find_pii(text):
        out.extend([text[last : match.start], placeholder.format(kind=match.kind)])
        last = match.end
    out.append(text[last:])
    return "".join(out)


class RedactingFormatter(logging.Formatter):
    """Log lines (message and traceback) with personal data replaced by typed placeholders."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
