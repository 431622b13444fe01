"""PII redaction: recall and precision on the generated set, the hard cases one by one, log lines."""

from __future__ import annotations

import io
import logging

import pytest

from shared import pii
from shared.pii import PiiMatch, RedactingFormatter, find_pii, redact
from shared.pii_testset import generate, iban_for, score


@pytest.mark.parametrize("seed", [17, 99])
def test_generated_set_meets_the_recall_and_precision_targets(seed: int) -> None:
    scores = score(generate(3000, seed=seed))
    overall = scores.pop("all")
    assert overall.planted >= 3900 and overall.detections >= overall.planted
    assert overall.recall >= 0.99 and overall.precision >= 0.95, overall
    assert all(s.recall >= 0.97 for s in scores.values()), scores


def test_the_set_is_not_trivial_a_detector_that_misses_a_kind_fails_it() -> None:
    without_addresses = score(generate(500), lambda text: [m for m in find_pii(text) if m.kind != "address"])
    assert without_addresses["address"].recall == 0 and without_addresses["all"].recall < 0.99


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("Send it to 221B Baker Street please", "address", "221B Baker Street"),
        ("Lieferung an Bahnhofstr. 12a, danke", "address", "Bahnhofstr. 12a"),
        ("Livraison au 12 rue de la Paix demain", "address", "12 rue de la Paix"),
        ("IBAN gb82 west 1234 5698 7654 32 please", "iban", "gb82 west 1234 5698 7654 32"),
        ("pay to GB82 WEST 1234 5698 7654 32 after noon", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("Amex 3782 822463 10005 expired", "card", "3782 822463 10005"),
        ("call +49 (0)30 1234567 or", "phone", "+49 (0)30 1234567"),
        ("version 2.10. 0044 7911 123456 is mine", "phone", "0044 7911 123456"),
    ],
)
def test_hard_cases_are_found_whole(text: str, kind: str, found: str) -> None:
    assert [(m.kind, m.text) for m in find_pii(text)] == [(kind, found)]


@pytest.mark.parametrize(
    "text",
    [
        "order #28395523 shipped on 2022-08-28 (ref 85866404)",
        "server 192.168.100.200 answered at 10.09.2026 21:00",
        "SKU 341-8365, 3 x 19.99, version 2.14.1, tracking 1Z999AA10123456784",
        "card 4111 1111 1111 1112 was declined",  # fails Luhn
        "IBAN DE44 5001 0517 5407 3249 32 looks wrong",  # fails mod-97
    ],
)
def test_look_alikes_are_not_redacted(text: str) -> None:
    assert find_pii(text) == []


def test_no_card_number_starts_with_0() -> None:
    assert all(m.kind != "card" for m in find_pii("0044 7911 1234 5678: no card number starts with 0"))


def test_generated_ibans_pass_their_checksum() -> None:
    assert iban_for("GB", "WEST12345698765432") == "GB82WEST12345698765432"


def test_log_lines_and_tracebacks_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.pii")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("ticket from %s paid with %s", "dana.reyes@example.com", "4111 1111 1111 1111")
        try:
            raise ValueError("bad IBAN GB82 WEST 1234 5698 7654 32")
        except ValueError:
            logger.exception("parse failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "WARNING ticket from [email] paid with [card]" in out and "bad IBAN [iban]" in out
    assert "example.com" not in out and "4111" not in out and "WEST" not in out


def test_plugged_detectors_add_kinds_without_overlapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pii, "_detectors", [])

    def names(text: str) -> list[PiiMatch]:
        return [PiiMatch("person", "Dana Reyes", i, i + 10) for i in [text.find("Dana Reyes")] if i >= 0]

    pii.register_detector(names)
    assert redact("Dana Reyes, dana@example.com") == "[person], [email]"
