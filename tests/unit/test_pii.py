"""PII redaction: recall and precision on the generated set, the hard cases one by one, log lines (which
keep the product's own identifiers)."""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from shared import pii
from shared.db.models import new_id
from shared.logging_setup import QUIET_LOGGERS, configure_logging
from shared.pii import PiiMatch, RedactingFormatter, find_pii, iban_valid, redact
from shared.pii_testset import PRODUCT_IDS, false_positives, generate, iban_for, score
from shared.registry import new_version_id


@pytest.mark.parametrize("seed", [17, 99])
def test_generated_set_meets_the_recall_and_precision_targets(seed: int) -> None:
    scores = score(generate(3000, seed=seed))
    overall = scores.pop("all")
    assert overall.planted >= 3900 and overall.detections >= overall.planted
    assert overall.recall >= 0.99 and overall.precision >= 0.95, overall
    assert all(s.recall >= 0.97 for s in scores.values()), scores


@pytest.mark.parametrize("seed", [17, 99])
def test_no_product_identifier_in_the_generated_set_is_flagged(seed: int) -> None:
    negatives = false_positives(generate(3000, seed=seed))
    assert sum(negatives[kind].planted for kind in PRODUCT_IDS) >= 1200
    assert {kind: n.flagged for kind, n in negatives.items() if n.flagged} == {}


def test_false_positives_are_counted_per_kind_of_look_alike() -> None:
    def stamps(text: str) -> list[PiiMatch]:  # the old phone rule on a model version's date-time stamp
        return [PiiMatch("phone", m.group(), m.start(), m.end()) for m in re.finditer(r"\d{8}-\d{6}", text)]

    negatives = false_positives(generate(500), stamps)
    assert negatives["model-version"].flagged == negatives["model-version"].planted > 0
    assert negatives["run-stamp"].rate == 1.0 and negatives["uuid"].flagged == 0


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


def test_iban_length_is_the_countrys() -> None:
    assert iban_valid("BE68 5390 0754 7034") and iban_valid("NO93 8601 1117 947")
    assert not iban_valid(iban_for("DE", "1" * 20))  # mod-97 holds, but a German IBAN has 22 characters
    assert iban_valid(iban_for("ZZ", "1" * 20))  # a country not in the registry: 15–34 characters


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


@pytest.fixture
def helploop_log() -> Iterator[Callable[[str], str]]:
    """Log a message as a helploop process does (the handler and formatter `configure_logging` installs on
    the root logger) and return the line it wrote."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    root.handlers.clear()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.delenv("HELPLOOP_LOG_REDACT_PII", raising=False)
            env.delenv("HELPLOOP_PII_PRESIDIO", raising=False)
            configure_logging("INFO")
        (handler,) = root.handlers
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]

        def log(message: str) -> str:
            stream.seek(0)
            stream.truncate()
            logging.getLogger("helploop.tests.pii").info("%s", message)
            return stream.getvalue()

        yield log
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


MOMENT = datetime(2026, 11, 29, 22, 42, 24, 123456, tzinfo=UTC)
PRODUCT_LOG_LINES = {  # test id: log message (ids fixed, as some messages are made afresh each run)
    "model-version": "published model 20261129-224224-2bf2d5",
    "model-version-new": f"published model {new_version_id(MOMENT)}",  # as shared.registry makes them
    "ticket-id-new": f"ticket {new_id()} routed to billing",  # as shared.db.models makes them
    "ticket-id-luhn": "ticket a73194e7d91b4a449658986947371542 routed",  # a 14-digit run that passes Luhn
    "job-id-mod97": "job ab77cdebaff1473abdd0839f2b2640d6 done",  # mod-97 holds for the whole hex string
    "uuid": "celery task 5daf75ab-2381-4546-b263-7f2c7a7879fd succeeded",
    "uuid-new": f"celery task {uuid.uuid4()} succeeded",
    "iso-timestamps": "received 2024-02-17T01:42:29.277458+00:00, due 2026-11-29T22:42:24Z",
    "iso-timestamps-python": f"at {MOMENT.isoformat()} / {MOMENT.isoformat(' ', 'milliseconds')}",
    "compact-timestamps": "snapshot 20261129T224224Z written to bench-20261129-224224.json",
    "event-id": "duplicate event ticket-01234567890-created ignored",
    "event-ids": "event ticket-123-article-456 and issue-10001-created accepted",
    "delivery-and-key": "delivery 1234567890 retried; rate-limit key de150e5b6b9b47363f46133b",
    "sha256": "sha256 19898875768d80f5a45aafcf0e7eeeda6d1299f54d9c969433ecddaa1d933f41 verified",
    "numbers": "helploop v1.2.3 classified in 12.5 ms (p99 1234567.5 ms), loss 0.4111111111111111",
    "ports": "broker 127.0.0.1:6379 and 10.0.3.17:5672, external ticket 00113858",
}


@pytest.mark.parametrize("message", PRODUCT_LOG_LINES.values(), ids=PRODUCT_LOG_LINES.keys())
def test_log_redaction_keeps_the_products_identifiers(
    helploop_log: Callable[[str], str], message: str
) -> None:
    line = helploop_log(message)
    assert line.rstrip("\n").endswith(f"helploop.tests.pii: {message}"), line
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \d+ ", line), line  # asctime and pid too


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        (
            "call +44 20 7946 0958 about model 20261129-224224-2bf2d5",
            "call [phone] about model 20261129-224224-2bf2d5",
        ),
        ("model 20261129-224224-123456 020 7946 0958", "model 20261129-224224-123456 [phone]"),
        ("on 2026-11-29 020 7946 0958", "on 2026-11-29 [phone]"),
        ("2026-11-29T22:42:24Z 0044 7911 123456", "2026-11-29T22:42:24Z [phone]"),
        (
            "task 5daf75ab-2381-4546-b263-7f2c7a7879fd for +1-555-123-4567",
            "task 5daf75ab-2381-4546-b263-7f2c7a7879fd for [phone]",
        ),
        (
            "event ticket-123-created: customer on 0170 1234567",
            "event ticket-123-created: customer on [phone]",
        ),
        (
            "ticket a73194e7d91b4a449658986947371542 paid 4111 1111 1111 1111, IBAN DE89370400440532013000",
            "ticket a73194e7d91b4a449658986947371542 paid [card], IBAN [iban]",
        ),
        ("reply to reply+5daf75ab-2381-4546-b263-7f2c7a7879fd@helpdesk.example.com", "reply to [email]"),
    ],
)
def test_log_redaction_still_finds_personal_data_next_to_identifiers(
    helploop_log: Callable[[str], str], message: str, logged: str
) -> None:
    assert helploop_log(message).rstrip("\n").endswith(f"helploop.tests.pii: {logged}")


def test_plugged_detectors_do_not_match_inside_product_identifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pii, "_detectors", [])

    def date_times(text: str) -> list[PiiMatch]:  # like Presidio's DATE_TIME, which takes "on" along
        return [PiiMatch("date_time", m.group(), m.start(), m.end()) for m in re.finditer(r"on \S+", text)]

    pii.register_detector(date_times)
    assert redact("published on 2026-11-29T22:42:24Z, seen on Monday") == (
        "published on 2026-11-29T22:42:24Z, seen [date_time]"
    )
