"""The generic webhook signature: what is accepted and what is refused."""

from __future__ import annotations

import pytest

from shared.signing import SignatureError, compute_signature, parse_header, sign, verify

BODY = b'{"event_id": "e1"}'
NOW = 1_800_000_000


def test_valid_signature_is_accepted() -> None:
    verify(sign("s3cret", BODY, timestamp=NOW), BODY, ["s3cret"], now=NOW)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=00", f"t={NOW}", "v1=deadbeef"])
def test_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify(header, BODY, ["s3cret"], now=NOW)


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(sign("other", BODY, timestamp=NOW), BODY, ["s3cret"], now=NOW)


def test_tampered_body_is_refused() -> None:
    header = sign("s3cret", BODY, timestamp=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header, BODY + b" ", ["s3cret"], now=NOW)


def test_timestamp_is_part_of_the_signed_message() -> None:
    digest = compute_signature("s3cret", NOW, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify(f"t={NOW + 1},v1={digest}", BODY, ["s3cret"], now=NOW)


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_stale_or_future_timestamp_is_refused(skew: int) -> None:
    header = sign("s3cret", BODY, timestamp=NOW - skew)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(header, BODY, ["s3cret"], now=NOW, tolerance_s=300)


def test_edge_of_tolerance_is_accepted() -> None:
    verify(sign("s3cret", BODY, timestamp=NOW - 300), BODY, ["s3cret"], now=NOW, tolerance_s=300)


def test_either_of_two_secrets_is_accepted_during_rotation() -> None:
    for secret in ("new-secret", "old-secret"):
        verify(sign(secret, BODY, timestamp=NOW), BODY, ["new-secret", "old-secret"], now=NOW)


def test_header_may_carry_several_v1_signatures() -> None:
    good = compute_signature("s3cret", NOW, BODY)
    verify(f"t={NOW},v1={'0' * 64},v1={good}", BODY, ["s3cret"], now=NOW)
    assert parse_header(f"t={NOW}, v1=aa ,v1=bb") == (NOW, ["aa", "bb"])


def test_non_ascii_signature_is_refused_not_crashed() -> None:
    with pytest.raises(SignatureError):
        verify(f"t={NOW},v1=ünïcode", BODY, ["s3cret"], now=NOW)
