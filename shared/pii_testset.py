"""A generated, labelled PII test set and its scoring: support messages with e-mail addresses, phone
numbers in several national formats, payment cards (valid Luhn), IBANs (valid mod-97) and street addresses
planted at known spans, beside look-alikes that are not personal data (order and tracking numbers, dates,
amounts, card numbers failing Luhn, IBANs failing mod-97, quantities, versions) and the product's own
identifiers as log lines carry them (model versions, ticket, job and event ids, UUIDs, ISO-8601 and compact
timestamps, hex digests, durations, host:port). Every look-alike's span and kind is recorded too, so a false
positive is attributed to the kind of thing it redacted. The Chinese part is `shared/pii_testset_zh.py`;
`score` and `false_positives` measure either."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from shared.pii import PiiMatch, find_pii, luhn_valid

FIRST = ("dana", "li", "omar", "sofia", "jean-luc", "priya", "mats", "chen", "ana", "kwame")
LAST = ("reyes", "wang", "haddad", "rossi", "dupont", "sharma", "olsen", "zhou", "silva", "mensah")
DOMAINS = ("example.com", "mail.example.org", "corp.example.co.uk", "example.de", "shop-example.fr")
STREET_NAMES = ("Baker", "Maple", "High", "Station", "Church", "Mill Pond", "King Edward", "Oak Tree")
STREET_TYPES = ("Street", "St.", "Road", "Rd", "Avenue", "Ave", "Lane", "Drive", "Boulevard", "Way", "Close")
DE_STREETS = ("Hauptstraße", "Lindenweg", "Bahnhofstr.", "Goethestraße", "Am Marktplatz", "Schillerallee")
FR_STREETS = ("rue de la Paix", "avenue Victor Hugo", "boulevard Saint-Michel", "place Bellecour")
IBAN_LAYOUTS = {"DE": "8n10n", "GB": "4a6n8n", "FR": "5n5n11c2n", "NL": "4a10n", "ES": "4n4n1n1n10n"}
TEMPLATES = (
    "Hi, please send the invoice to {pii}, thanks.",
    "You can reach me on {pii} after 5pm.",
    "My details: {pii}. Order {neg} still has not arrived.",
    "I was charged twice, see {pii} — reference {neg}.",
    "Please update my account: {pii} (was changed on {neg}).",
    "{pii} is the one to use. The parcel {neg} was lost.",
    "Refund to {pii} please; the amount was {neg}.",
    "Customer {pii} replied; logged as {neg}.",
    "Call {pii} back - see {neg} in the logs.",
)


@dataclass(frozen=True)
class Example:
    text: str
    spans: list[tuple[str, int, int]]  # (kind, start, end) of every planted item
    negatives: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, start, end) of look-alikes


def _email(rng: random.Random) -> str:
    name = f"{rng.choice(FIRST)}{rng.choice(['.', '_', ''])}{rng.choice(LAST)}"
    return f"{name}{rng.choice(['', '+orders', str(rng.randint(1, 99))])}@{rng.choice(DOMAINS)}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _phone(rng: random.Random) -> str:
    formats = [
        lambda: f"+1 ({_digits(rng, 3)}) {_digits(rng, 3)}-{_digits(rng, 4)}",
        lambda: f"{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 4)}",
        lambda: f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
        lambda: f"020 {_digits(rng, 4)} {_digits(rng, 4)}",
        lambda: f"+49 170 {_digits(rng, 7)}",
        lambda: f"0170 {_digits(rng, 7)}",
        lambda: f"+33 1 {' '.join(_digits(rng, 2) for _ in range(4))}",
        lambda: f"06 {' '.join(_digits(rng, 2) for _ in range(4))}",
        lambda: f"0044 7{_digits(rng, 9)}",
        lambda: f"+1-{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 4)}",
        lambda: f"07700 {_digits(rng, 6)}",
        lambda: f"+49 (0)30 {_digits(rng, 7)}",
        lambda: f"{_digits(rng, 3)}.{_digits(rng, 3)}.{_digits(rng, 4)}",
    ]
    return rng.choice(formats)()


def _luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in string.digits if luhn_valid(prefix + d))


def _card(rng: random.Random) -> str:
    if rng.random() < 0.2:  # American Express: 15 digits, 4-6-5
        number = _luhn_complete(rng.choice(["34", "37"]) + _digits(rng, 12))
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    prefix = rng.choice(["4", "51", "55", "22"])
    number = _luhn_complete(prefix + _digits(rng, 15 - len(prefix)))
    return rng.choice([" ", "-", ""]).join(number[i : i + 4] for i in range(0, 16, 4))


def _bban(rng: random.Random, layout: str) -> str:
    out, count = [], ""
    for char in layout:
        if char.isdigit():
            count += char
            continue
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
        out.append("".join(rng.choice(pool[char]) for _ in range(int(count))))
        count = ""
    return "".join(out)


def iban_for(country: str, bban: str) -> str:
    """The IBAN with its mod-97 check digits."""
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - numeric % 97:02d}{bban}"


def _iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_LAYOUTS))
    iban = iban_for(country, _bban(rng, IBAN_LAYOUTS[country]))
    if rng.random() < 0.1:
        iban = iban.lower()  # typed by hand
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.6 else iban


def _address(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        number = f"{rng.randint(1, 2500)}{rng.choice(['', '', 'B', 'a'])}"
        street = f"{number} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
        return rng.choice(["", "", f"Flat {rng.randint(1, 40)}, "]) + street
    if kind < 0.8:
        return f"{rng.choice(DE_STREETS)} {rng.randint(1, 180)}{rng.choice(['', 'a', 'b'])}"
    return f"{rng.randint(1, 120)} {rng.choice(FR_STREETS)}"


def _stamp(rng: random.Random) -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(4 * 365 * 86400))


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _invalid_card(rng: random.Random) -> str:
    number = next(n for n in iter(lambda: "4" + _digits(rng, 15), None) if not luhn_valid(n))
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def _invalid_iban(rng: random.Random) -> str:
    valid = iban_for("DE", _bban(rng, "8n10n"))
    return valid[:2] + f"{(int(valid[2:4]) + 1) % 100:02d}" + valid[4:]


def _iso_timestamp(rng: random.Random) -> str:
    """As Python, PostgreSQL and the helpdesks write them, log lines' own `asctime` included."""
    t = _stamp(rng).replace(microsecond=rng.randrange(1_000_000))
    return rng.choice(
        [
            t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            t.isoformat(),
            t.isoformat(sep=" ", timespec="milliseconds"),
            t.astimezone(timezone(timedelta(hours=rng.randint(-11, 13)))).isoformat(timespec="seconds"),
            t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}",
        ]
    )


def _event_id(rng: random.Random) -> str:
    """The webhooks' idempotency keys (services/gateway/webhooks/payloads.py) and the CLI's `evt-<hex>`."""
    n, m = (rng.randint(1, 10 ** rng.randint(3, 10)) for _ in range(2))
    return rng.choice(
        [f"ticket-{n}-created", f"ticket-{n}-article-{m}", f"issue-{n}-created", f"evt-{_uuid(rng).hex}"]
    )


def _duration(rng: random.Random) -> str:
    value = rng.uniform(0, 10 ** rng.randint(1, 7))
    return rng.choice(
        [f"{value:.1f} ms", f"{value:.3f} s", f"took {value:.6f}s", f"loss {rng.random():.17f}"]
    )


def _ipv4(rng: random.Random) -> str:
    return f"{rng.randint(10, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _host_port(rng: random.Random) -> str:
    host = rng.choice(["127.0.0.1", _ipv4(rng), "redis", "localhost"])
    return f"{host}:{rng.choice([5432, 5672, 6379, 8000, rng.randint(1024, 65535)])}"


# Things support messages are full of that are not personal data, by kind.
LOOK_ALIKES: dict[str, Callable[[random.Random], str]] = {
    "order-ref": lambda rng: f"NW-{_digits(rng, 5)}",
    "hash-ref": lambda rng: f"#{_digits(rng, 8)}",
    "date-dmy": lambda rng: f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(20, 27)}",
    "date-iso": lambda rng: f"20{rng.randint(20, 27)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "amount": lambda rng: f"€{rng.randint(1, 9)},{_digits(rng, 3)}.{_digits(rng, 2)}",
    "ups-tracking": lambda rng: f"1Z{''.join(rng.choices(string.ascii_uppercase + string.digits, k=16))}",
    "card-bad-luhn": _invalid_card,
    "iban-bad-mod97": _invalid_iban,
    "quantity": lambda rng: f"{rng.randint(2, 12)} items",
    "version": lambda rng: f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
    "clock-time": lambda rng: f"{rng.randint(10, 23)}:{rng.randint(0, 59):02d}",
    "ipv4": _ipv4,
    "ticket-number": lambda rng: f"ticket {_digits(rng, 8)}",
    "usps-tracking": lambda rng: f"9400 {' '.join(_digits(rng, 4) for _ in range(4))} {_digits(rng, 2)}",
    "date-time-de": lambda rng: f"{_stamp(rng):%d.%m.%Y} {rng.randint(10, 23)}:00",
    "price-line": lambda rng: f"{rng.randint(2, 5)} x {rng.randint(1, 99)}.{_digits(rng, 2)}",
    "sku": lambda rng: f"SKU {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
}
# The product's own identifiers as log lines carry them: redacting one breaks correlating logs with the API.
PRODUCT_IDS: dict[str, Callable[[random.Random], str]] = {
    "model-version": lambda rng: f"{_stamp(rng):%Y%m%d-%H%M%S}-{_hex(rng, 6)}",  # registry.new_version_id
    "run-stamp": lambda rng: f"bench-{_stamp(rng):%Y%m%d-%H%M%S}",  # helploop bench reports
    "ticket-id": lambda rng: _uuid(rng).hex,  # shared.db.base.new_id
    "job-id": lambda rng: f"job {_uuid(rng).hex}",
    "uuid": lambda rng: str(_uuid(rng)),  # Celery task ids, GitHub delivery ids
    "iso-timestamp": _iso_timestamp,
    "compact-timestamp": lambda rng: f"{_stamp(rng):%Y%m%dT%H%M%S}{rng.choice(['', 'Z'])}",
    "event-id": _event_id,
    "delivery-id": lambda rng: f"delivery {rng.randint(1, 10 ** rng.randint(3, 10))}",
    "hex-digest": lambda rng: f"sha256 {_hex(rng, rng.choice([12, 16, 24, 64]))}",
    "semver": lambda rng: f"v{rng.randint(0, 30)}.{rng.randint(0, 99)}.{rng.randint(0, 99)}",
    "duration": _duration,
    "host-port": _host_port,
}
NEGATIVES = LOOK_ALIKES | PRODUCT_IDS


def _negative(rng: random.Random) -> tuple[str, str]:
    """A look-alike or a product identifier, with its kind."""
    kind = rng.choice(sorted(NEGATIVES))
    return kind, NEGATIVES[kind](rng)


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "email": _email,
    "phone": _phone,
    "card": _card,
    "iban": _iban,
    "address": _address,
}


def _append_negative(rng: random.Random, text: str, negatives: list[tuple[str, int, int]]) -> str:
    kind, item = _negative(rng)
    negatives.append((kind, len(text), len(text) + len(item)))
    return text + item


def generate(count: int = 2000, *, seed: int = 17) -> list[Example]:
    rng = random.Random(seed)
    kinds = sorted(GENERATORS)
    examples = []
    for i in range(count):
        text, spans, negatives = "", [], []
        for j in range(1 + (i % 3 == 0)):  # a third of the messages carry two items
            kind = kinds[(i + j) % len(kinds)]
            before, _, after = rng.choice(TEMPLATES).partition("{pii}")
            item = GENERATORS[kind](rng)
            text += before
            spans.append((kind, len(text), len(text) + len(item)))
            text += item
            if "{neg}" in after:
                head, _, after = after.partition("{neg}")
                text = _append_negative(rng, text + head, negatives)
            text += after + " "  # {pii} first in each
        if i % 10 == 0:  # and some carry none: only look-alikes
            text = _append_negative(rng, text + "Also, my order ", negatives)
            text = _append_negative(rng, text + " and ", negatives) + "."
        examples.append(Example(text.strip(), spans, negatives))
    return examples


@dataclass(frozen=True)
class Score:
    planted: int
    found: int  # planted items a detection overlaps, of the same kind
    detections: int
    correct: int  # detections overlapping a planted item

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.detections if self.detections else 1.0


def _overlaps(match: PiiMatch, start: int, end: int) -> bool:
    return match.start < end and start < match.end


def score(
    examples: list[Example],
    detect: Callable[[str], list[PiiMatch]] = find_pii,
    *,
    kinds: Iterable[str] = GENERATORS,
) -> dict[str, Score]:
    """Recall per kind (`kinds`, and any other planted) and in all, precision in all (a detection anywhere
    else is a false positive)."""
    tallies: dict[str, list[int]] = {kind: [0, 0] for kind in kinds}
    detections = correct = 0
    for example in examples:
        matches = detect(example.text)
        detections += len(matches)
        correct += sum(any(_overlaps(m, s, e) for _, s, e in example.spans) for m in matches)
        for kind, start, end in example.spans:
            tallies.setdefault(kind, [0, 0])[0] += 1
            tallies[kind][1] += any(m.kind == kind and _overlaps(m, start, end) for m in matches)
    scores = {kind: Score(planted, found, 0, 0) for kind, (planted, found) in tallies.items()}
    planted = sum(s.planted for s in scores.values())
    found = sum(s.found for s in scores.values())
    scores["all"] = Score(planted, found, detections, correct)
    return scores


@dataclass(frozen=True)
class NegativeScore:
    planted: int
    flagged: int  # look-alikes of this kind a detection overlaps: false positives

    @property
    def rate(self) -> float:
        return self.flagged / self.planted if self.planted else 0.0


def false_positives(
    examples: list[Example],
    detect: Callable[[str], list[PiiMatch]] = find_pii,
    *,
    kinds: Iterable[str] = NEGATIVES,
) -> dict[str, NegativeScore]:
    """Per look-alike kind (`kinds`, and any other planted): how many were planted and how many a detection
    overlaps; "other" counts the detections that overlap neither a planted item nor a look-alike (the
    templates' own words)."""
    tallies: dict[str, list[int]] = {kind: [0, 0] for kind in sorted(kinds)} | {"other": [0, 0]}
    for example in examples:
        matches = detect(example.text)
        for kind, start, end in example.negatives:
            tallies.setdefault(kind, [0, 0])[0] += 1
            tallies[kind][1] += any(_overlaps(m, start, end) for m in matches)
        labelled = example.spans + example.negatives
        tallies["other"][1] += sum(not any(_overlaps(m, s, e) for _, s, e in labelled) for m in matches)
    return {kind: NegativeScore(planted, flagged) for kind, (planted, flagged) in tallies.items()}
