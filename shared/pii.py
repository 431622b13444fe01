"""Detect personal data in text: e-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs
(mod-97 checked) and street addresses (English, German and French forms with a street word and a house
number). Used by the draft guardrails (never echo a customer's data), by redaction before tickets become
training data, and on log records. `shared/pii_testset.py` measures recall and precision.

The product's own identifiers are never personal data: ISO-8601 and compact timestamps, model versions
(`20261129-224224-2bf2d5`), UUIDs with or without dashes and long hex digests are found first, and no other
detector may match inside one. A digit run glued by `-` or a letter to a longer token (`issue-10001-created`,
`ticket-123-article-456`, hex) is part of that token, and a decimal number (`1234567.5 ms`) is no phone."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Not inside a longer token: no letter, digit or "." right before, no "x-" before or "-x" after.
_LONE_START, _LONE_END = r"(?<![\w.])(?<!\w-)", r"(?![\w])(?!-\w)"
PHONE = re.compile(rf"{_LONE_START}(?:\+|00)?\d[\d ()./-]{{6,}}\d{_LONE_END}")
CARD = re.compile(rf"{_LONE_START}(?:\d[ -]?){{12,18}}\d{_LONE_END}")
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


_DATE = r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?"
_COMPACT = r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[T-](?:[01]\d|2[0-3])[0-5]\d[0-5]\d"
# The product's own identifiers: no detector but the e-mail one may match inside one.
PRODUCT_ID = re.compile(
    rf"(?<![\w.])(?:{_DATE}(?:[T ]{_TIME})?"  # 2026-11-29, 2026-11-29T22:42:24Z, …22:42:24.123+00:00
    rf"|{_COMPACT}(?:Z|-[0-9a-f]{{6}})?"  # 20261129T224224Z, bench 20261129-224224, model …-2bf2d5
    r"|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"  # UUID
    r"|[0-9a-f]{32,})(?!\w)",  # ticket and job ids (uuid4 hex), sha1 and sha256 digests
    re.IGNORECASE,
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


# IBAN length by country (SWIFT IBAN registry): "de15…" in a 24-character hex digest is no German IBAN (22)
_IBAN_REGISTRY = """
AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28
EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 IE22 IL23 IQ23 IS26
IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28
NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25
SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30
"""
IBAN_LENGTHS = {country: int(length) for country, length in re.findall(r"([A-Z]{2})(\d\d)", _IBAN_REGISTRY)}


def iban_valid(text: str) -> bool:
    """Mod-97 and the country's registered length (15–34 characters for a country not in the registry)."""
    compact = re.sub(r"\s", "", text).upper()
    if len(compact) != IBAN_LENGTHS.get(compact[:2], len(compact)) or not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


SENTENCE_BREAK = re.compile(r"\.\s+")
# digit runs a phone pattern matches that are something else: a date (with or without a time), an IPv4
# address, a decimal number (a duration, a score, seconds since the epoch)
NOT_PHONE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}(?!\d)|\d{1,3}(?:\.\d{1,3}){3}$|\d+\.\d+$")


def _phone_like(text: str, before: str) -> bool:
    """7–15 digits written as a phone number is: with a leading +, 00 or (, with separators, or with a
    national 0 prefix; a bare run of digits or one after "#" is a reference or order number."""
    digits = re.sub(r"\D", "", text)
    stripped = text.strip() if "(" in text else text.strip().rstrip(")")  # "(ref 12345678)"
    if not 7 <= len(digits) <= 15 or before == "#" or NOT_PHONE.match(stripped):
        return False
    if stripped[0] in "+(" or (stripped.startswith("00") and len(digits) >= 10):  # 00 + 8 or more digits
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


def _masked_product_ids(text: str) -> tuple[str, list[range]]:
    """The text with every product identifier overwritten by "_" (same length, so offsets hold; a word
    character, so nothing next to one reads as a separate number), and their spans."""
    spans = [range(m.start(), m.end()) for m in PRODUCT_ID.finditer(text)]
    masked = list(text)
    for span in spans:
        masked[span.start : span.stop] = "_" * len(span)
    return "".join(masked), spans


def _overlaps_any(start: int, end: int, spans: list[range]) -> bool:
    return any(start < span.stop and span.start < end for span in spans)


def find_pii(text: str) -> list[PiiMatch]:
    """Every match, longest kinds first: a card number is not also reported as a phone number. Only an
    e-mail address may contain one of the product's identifiers; IBANs, cards and phones are looked for
    with the identifiers masked, so one next to an identifier is found on its own."""
    found: list[PiiMatch] = []
    taken: list[range] = []

    def add(kind: str, match: re.Match[str], end: int | None = None, *, start: int | None = None) -> None:
        start, end = (match.start() if start is None else start), (match.end() if end is None else end)
        if _overlaps_any(start, end, taken):
            return
        found.append(PiiMatch(kind, text[start:end], start, end))
        taken.append(range(start, end))

    for match in EMAIL.finditer(text):
        add("email", match)
    masked, identifiers = _masked_product_ids(text)
    taken.extend(identifiers)  # after the e-mail addresses: "<uuid>@reply.example.com" is still one
    for match in IBAN.finditer(masked):
        if (end := _iban_end(masked, match)) is not None:
            add("iban", match, end)
    for match in CARD.finditer(masked):
        if _card_like(re.sub(r"\D", "", match.group(0))):
            add("card", match)
    for pattern in ADDRESSES:
        for match in pattern.finditer(text):
            add("address", match)
    for match in PHONE.finditer(masked):
        for piece in SENTENCE_BREAK.split(match.group(0)):  # "version 2.10. 0044 7001 …" is two runs
            offset = match.start() + match.group(0).index(piece)
            if piece and _phone_like(piece, masked[offset - 1 : offset]):
                add("phone", match, offset + len(piece), start=offset)
    for detect in _detectors:
        for extra in detect(text):
            if not _overlaps_any(extra.start, extra.end, taken):
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
