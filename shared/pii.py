"""Detect personal data in text: e-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs
(mod-97 checked) and street addresses (English, German and French forms with a street word and a house
number), and the Chinese forms in `shared/pii_zh.py` (mobile numbers, resident identity numbers, UnionPay
and bank cards, QQ/WeChat ids, 省/市/区/路/号 addresses). Used by the draft guardrails (never echo a
customer's data), by redaction before tickets become training data, and on log records.
`shared/pii_testset.py` and `shared/pii_testset_zh.py` measure recall and precision.

The product's own identifiers are never personal data: ISO-8601 and compact timestamps, model versions
(`20261129-224224-2bf2d5`), UUIDs with or without dashes and long hex digests are found first, and no other
detector may match inside one. A digit run glued by `-` or a letter to a longer token (`issue-10001-created`,
`ticket-123-article-456`, hex) is part of that token, and a decimal number (`1234567.5 ms`) is no phone.
CJK characters are no part of a token ("电话13812345678" holds a number), and full-width forms are read as
ASCII ("１３８…"); reported offsets and text are always the original's."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from shared import pii_zh
from shared.pii_checks import IBAN_COUNTRIES, LazyPattern, iban_valid, luhn_valid
from shared.pii_zh import WORD, normalise_width

__all__ = [
    "PiiMatch",
    "RedactingFormatter",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "presidio_detector",
    "redact",
    "register_detector",
]

EMAIL = LazyPattern(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Not inside a longer token: no letter, digit or "." right before, no "x-" before or "-x" after.
_LONE_START, _LONE_END = pii_zh.START, pii_zh.END
PHONE = LazyPattern(rf"{_LONE_START}(?:\+|00)?\d[\d ()./-]{{6,}}\d{_LONE_END}")
CARD = LazyPattern(rf"{_LONE_START}(?:\d[ -]?){{12,18}}\d{_LONE_END}")
IBAN = LazyPattern(
    rf"(?<!{WORD})[A-Z]{{2}}\d{{2}}(?: ?[A-Z0-9]{{4}}){{2,7}}(?: ?[A-Z0-9]{{1,3}})?(?!{WORD})", re.IGNORECASE
)  # typed by hand too
_EN_STREET = (
    r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|Blvd\.?|Way|Close|Court|Ct\.?"
    r"|Place|Pl\.?|Terrace|Square|Crescent|Parkway"
)
_DE_STREET = r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm"
_FR_STREET = r"rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai"
ADDRESSES = (
    # 221B Baker Street, 12 Mill Pond Rd
    LazyPattern(rf"(?<!{WORD})\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_EN_STREET})(?![A-Za-z])"),
    # Hauptstraße 5, Bahnhofstr. 12a, Am Marktplatz 3
    LazyPattern(
        rf"(?<![-])(?<!{WORD})"
        rf"(?:[A-ZÄÖÜ][a-zäöüß]+(?:{_DE_STREET})|(?:Am|An der|Im|Auf dem) [A-ZÄÖÜ][a-zäöüß]+)"
        rf"\s+\d{{1,4}}[a-z]?(?!{WORD})"
    ),
    # 12 rue de la Paix, 3 bis avenue Victor Hugo
    LazyPattern(
        rf"(?<!{WORD})\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:{_FR_STREET})\s+(?:(?:de|du|des|la|le|l'|d')\s*)*"
        r"[A-ZÀ-Ý][\w'-]+(?:\s+[A-ZÀ-Ý][\w'-]+)?"
    ),
)


_DATE = r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?"
_COMPACT = r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[T-](?:[01]\d|2[0-3])[0-5]\d[0-5]\d"
# The product's own identifiers: no detector but the e-mail one may match inside one.
PRODUCT_ID = LazyPattern(
    rf"(?<![.])(?<!{WORD})(?:{_DATE}(?:[T ]{_TIME})?"  # 2026-11-29, 2026-11-29T22:42:24Z, …22:42:24.123+00:00
    rf"|{_COMPACT}(?:Z|-[0-9a-f]{{6}})?"  # 20261129T224224Z, bench 20261129-224224, model …-2bf2d5
    r"|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"  # UUID
    rf"|[0-9a-f]{{32,}})(?!{WORD})",  # ticket and job ids (uuid4 hex), sha1 and sha256 digests
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # "email", "phone", "card", "iban", "address", "national_id", "messenger_id"
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """A normal form to compare occurrences (full-width as ASCII): lower-case e-mail, letters, digits
        and CJK characters only otherwise, a Chinese mobile number without its +86."""
        text = unicodedata.normalize("NFKC", self.text)
        if self.kind == "email":
            return text.lower()
        key = re.sub(r"[\W_]", "", text.upper())
        return re.sub(r"^(?:00)?86(?=1[3-9]\d{9}$)", "", key) if self.kind == "phone" else key


SENTENCE_BREAK = LazyPattern(r"\.\s+")
# digit runs a phone pattern matches that are something else: a date (with or without a time), an IPv4
# address, a decimal number (a duration, a score, seconds since the epoch)
NOT_PHONE = LazyPattern(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}(?!\d)|\d{1,3}(?:\.\d{1,3}){3}$|\d+\.\d+$")


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
        if not re.match(WORD, text[end : end + 1]) and iban_valid(candidate):
            return end
        candidate = candidate[:-1].rstrip()
    return None


def _card_like(digits: str) -> bool:
    """13–19 digits, an issuer's first digit (2–6: Mastercard, Amex/Diners/JCB, Visa, Mastercard, Discover)
    and a valid Luhn check digit."""
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


Span = tuple[str, int, int]  # (kind, start, end)


def _ibans(masked: str) -> Iterator[Span]:
    """Valid IBANs of a country that has them ("SF1311234567890" is an SF Express waybill)."""
    for match in IBAN.finditer(masked):
        if match.group()[:2].upper() in IBAN_COUNTRIES and (end := _iban_end(masked, match)) is not None:
            yield "iban", match.start(), end


def _cards(masked: str) -> Iterator[Span]:
    """Issuer digit (2–6, UnionPay's 62 included) and Luhn; or any 16–19 digits after a Chinese bank card
    label ("银行卡号", "建行卡", "账号"), as some older Chinese debit cards carry no Luhn check digit (a
    store or member card's "会员卡号" is no such label). Never right after an order or tracking label."""
    for match in CARD.finditer(masked):
        digits = re.sub(r"\D", "", match.group())
        if pii_zh.reference_before(masked, match.start()):
            continue
        if _card_like(digits) or (
            16 <= len(digits) <= 19 and pii_zh.card_label_before(masked, match.start())
        ):
            yield "card", match.start(), match.end()


def _phones(masked: str) -> Iterator[Span]:
    """Chinese mobile numbers, then phone numbers in international and national forms that are not
    an order or tracking number, a company hotline, a date, an IP address or a decimal."""
    yield from (("phone", start, end) for start, end in pii_zh.mobiles(masked))
    for match in PHONE.finditer(masked):
        for piece in SENTENCE_BREAK.split(match.group(0)):  # "version 2.10. 0044 7001 …" is two runs
            start = match.start() + match.group(0).index(piece)
            if not piece or not _phone_like(piece, masked[start - 1 : start]):
                continue
            if not pii_zh.reference_before(masked, start) and not pii_zh.company_line(
                masked, start, re.sub(r"\D", "", piece)
            ):
                opening = masked[start - 1 : start] == "(" and ")" in piece  # "(0755)8888 6666"
                yield "phone", start - int(opening), start + len(piece)


def _candidates(normal: str, masked: str) -> Iterator[Span]:
    """Every kind's matches, the more specific kinds first: an identity number is not also a card, a card
    not also a phone. `normal` is the text with full-width forms as ASCII, `masked` also without the
    product's identifiers."""
    yield from _ibans(masked)
    yield from (("messenger_id", start, end) for start, end in pii_zh.messenger_ids(masked))
    yield from (("national_id", start, end) for start, end in pii_zh.resident_ids(masked))
    yield from _cards(masked)
    for pattern in ADDRESSES:
        yield from (("address", m.start(), m.end()) for m in pattern.finditer(normal))
    yield from (("address", start, end) for start, end in pii_zh.addresses(normal))
    yield from _phones(masked)


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
    e-mail address may contain one of the product's identifiers; the other kinds are looked for with the
    identifiers masked, so one next to an identifier is found on its own."""
    found: list[PiiMatch] = []
    taken: list[range] = []

    def add(kind: str, start: int, end: int) -> None:
        if not _overlaps_any(start, end, taken):
            found.append(PiiMatch(kind, text[start:end], start, end))
            taken.append(range(start, end))

    normal = normalise_width(text)
    for match in EMAIL.finditer(normal):
        add("email", match.start(), match.end())
    masked, identifiers = _masked_product_ids(normal)
    taken.extend(identifiers)  # after the e-mail addresses: "<uuid>@reply.example.com" is still one
    for kind, start, end in _candidates(normal, masked):
        add(kind, start, end)
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
