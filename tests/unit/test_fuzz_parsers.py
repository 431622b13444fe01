"""Property tests (hypothesis) for the code that reads untrusted input first: signature headers and
checks, and every helpdesk's payload parser. Whatever comes in, the answer is a clean rejection (the
error the views turn into a 401 or 422), never another exception."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.gateway.webhooks import payloads
from services.gateway.webhooks.signatures import verify_jira, verify_zammad, verify_zendesk
from services.gateway.webhooks.views import PARSERS
from shared.integrations.config import Provider
from shared.signing import SignatureError, parse_header, sign, verify

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
SECRET = "fuzz-secret-0123456789"
FIXTURE_DIR = Path(__file__).parents[1] / "fixtures" / "webhooks"
tricky_text = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=200) | st.sampled_from(
    ["\x00", "t=1,v1=", "t=99999999999999999999,v1=ab", "v1=" + "a" * 64, "t=1" + ",v1=x" * 500, "\ud800"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(tricky_text, inner, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(header=tricky_text)
def test_signature_headers_parse_or_are_refused_with_a_reason(header: str) -> None:
    try:
        timestamp, candidates = parse_header(header)
    except SignatureError as exc:
        assert str(exc)
        return
    assert isinstance(timestamp, int) and candidates


@FUZZ
@given(body=st.binary(max_size=2048), flip=st.integers(min_value=0))
def test_a_signature_holds_for_its_body_and_for_no_other(body: bytes, flip: int) -> None:
    header = sign(SECRET, body)
    verify(header, body, [SECRET])
    if body:
        i = flip % len(body)
        tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        try:
            verify(header, tampered, [SECRET])
        except SignatureError:
            pass
        else:
            raise AssertionError("a tampered body verified")
    stale = sign(SECRET, body, timestamp=int(time.time()) - 3600)
    try:
        verify(stale, body, [SECRET], tolerance_s=300)
    except SignatureError:
        return
    raise AssertionError("a stale signature verified")


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(
    ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp", "X-Hub-Signature"]
), tricky_text), body=st.binary(max_size=512))  # fmt: skip
def test_provider_signature_checks_refuse_forgeries_with_a_reason(
    headers: dict[str, str], body: bytes
) -> None:
    checks = [
        lambda: verify_zendesk(headers, body, [SECRET], tolerance_s=300, now=None),
        lambda: verify_zammad(headers, body, [SECRET]),
        lambda: verify_jira(headers, body, [SECRET]),
    ]
    for check in checks:
        try:
            check()
        except SignatureError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"forged headers {headers!r} passed")


@FUZZ
@given(document=json_values, provider=st.sampled_from(sorted(PARSERS)))
def test_payload_parsers_return_an_event_or_a_payload_error(document: Any, provider: Any) -> None:
    json.dumps(document)  # what a request body can carry
    try:
        event = PARSERS[provider](document)
    except (payloads.PayloadError, TypeError, AttributeError, RecursionError):  # the view's 422s
        return
    assert isinstance(event, payloads.NewTicket | payloads.Resolved | payloads.Ignored)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON document (dict keys and list indexes)."""
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else []
    )
    out = [prefix] if prefix else []
    for key, value in items:
        out += _paths(value, (*prefix, key))
    return out


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = document.copy()
    copy[path[0]] = _replaced(copy[path[0]], path[1:], value)
    return copy


FIXTURES = [json.loads(path.read_text()) for path in sorted(FIXTURE_DIR.glob("*.json"))]
FIXTURE_PROVIDERS = {"zendesk": Provider.ZENDESK, "zammad": Provider.ZAMMAD, "jira": Provider.JIRA_SM}
FIXTURE_PROVIDERS["freshdesk"] = Provider.FRESHDESK
PROVIDER_OF = [FIXTURE_PROVIDERS[p.name.split("_")[0]] for p in sorted(FIXTURE_DIR.glob("*.json"))]


@FUZZ
@given(data=st.data(), which=st.integers(min_value=0, max_value=len(FIXTURES) - 1))
def test_real_payloads_with_fields_replaced_still_parse_or_fail_cleanly(data: Any, which: int) -> None:
    document, provider = FIXTURES[which], PROVIDER_OF[which]
    paths = _paths(document)
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        try:
            document = _replaced(document, path, data.draw(json_values))
        except (KeyError, IndexError, TypeError, AttributeError):  # an earlier replacement removed it
            continue
    test_payload_parsers_return_an_event_or_a_payload_error.hypothesis.inner_test(document, provider)
