"""The routing policy: conservative default, every escalation reason, auto-reply only when everything
allows it (never with a flagged draft), validation errors that name the field, live reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.routing.policy import (
    PolicyError,
    PolicyHolder,
    Route,
    RouteFacts,
    decide,
    load_policy,
    parse_policy,
)

ENABLED = parse_policy(
    {
        "languages": ["en"],
        "auto_reply": {"enabled": True, "min_confidence": 0.9},
        "intents": {
            "where_is_my_order": {"auto_reply": True, "min_confidence": 0.97},
            "discount_code": {"auto_reply": True},
            "complaint": {"escalate": True},
            "payment_failed": {"queue": "billing"},
        },
    }
)


def facts(**changes: object) -> RouteFacts:
    base: dict[str, object] = {
        "intent": "discount_code",
        "confidence": 0.98,
        "out_of_scope": False,
        "language": "en",
        "language_supported": True,
        "sentiment": "neutral",
        "priority": "normal",
        "has_draft": True,
        "draft_flags": [],
    }
    return RouteFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_the_default_policy_never_auto_replies() -> None:
    decision = decide(load_policy(None), facts())
    assert decision.route is Route.DRAFT and "auto_reply_disabled" in decision.reasons
    assert decision.queue == "support"


def test_auto_reply_needs_every_condition() -> None:
    assert decide(ENABLED, facts()).route is Route.AUTO_REPLY
    below_intent_minimum = decide(ENABLED, facts(intent="where_is_my_order", confidence=0.95))
    assert below_intent_minimum.route is Route.DRAFT
    assert below_intent_minimum.reasons == ["confidence_below_threshold:0.950<0.970"]
    not_enabled = decide(ENABLED, facts(intent="payment_failed"))
    assert not_enabled.route is Route.DRAFT and not_enabled.queue == "billing"
    assert decide(ENABLED, facts(has_draft=False)).reasons == ["no_draft"]


def test_a_guardrail_flagged_draft_is_never_auto_sent() -> None:
    decision = decide(ENABLED, facts(draft_flags=["ungrounded"], confidence=0.999))
    assert decision.route is Route.DRAFT and decision.reasons == ["draft_flagged:ungrounded"]


@pytest.mark.parametrize(
    ("changes", "queue", "reason"),
    [
        ({"out_of_scope": True}, "tier2", "out_of_scope"),
        ({"language": "de", "language_supported": True}, "tier2", "unsupported_language:de"),
        ({"language_supported": False}, "tier2", "unsupported_language:en"),
        ({"intent": "complaint"}, "tier2", "intent_requires_human:complaint"),
        ({"sentiment": "negative", "priority": "high"}, "senior", "negative_sentiment_high_priority"),
    ],
)
def test_escalations(changes: dict[str, object], queue: str, reason: str) -> None:
    decision = decide(ENABLED, facts(**changes))
    assert (decision.route, decision.queue) == (Route.ESCALATE, queue) and reason in decision.reasons


def test_invalid_policies_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"auto_reply.min_confidence"):
        parse_policy({"auto_reply": {"min_confidence": 1.5}})
    with pytest.raises(PolicyError, match=r"intents.refund.auto_replyy"):
        parse_policy({"intents": {"refund": {"auto_replyy": True}}})
    broken = tmp_path / "policy.yml"
    broken.write_text("auto_reply: [unclosed")
    with pytest.raises(PolicyError, match=str(broken)):
        load_policy(broken)


def test_holder_reloads_a_changed_file_and_keeps_the_last_valid_one(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text("version: 1\n")
    holder = PolicyHolder(path)
    assert holder.get().auto_reply.enabled is False

    def rewrite(text: str, bump: int) -> None:
        path.write_text(text)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump))

    rewrite("version: 2\nauto_reply: {enabled: true}\n", 10**9)
    assert holder.get().version == 2 and holder.get().auto_reply.enabled
    rewrite("version: 3\nauto_reply: {enabled: maybe-not}\n", 2 * 10**9)
    assert holder.get().version == 2  # the invalid edit is refused, routing keeps working


BILINGUAL = parse_policy(
    {
        "auto_reply": {"enabled": True, "min_confidence": 0.9},
        "languages": ["en", "zh"],
        "by_language": {
            "zh": {"queue": "support_zh", "escalation_queue": "tier2_zh", "min_confidence": 0.99},
            "en": {"auto_reply": True},
        },
        "intents": {"discount_code": {"auto_reply": True}, "payment_failed": {"queue": "billing"}},
    }
)


def test_a_policy_branches_on_the_tickets_language() -> None:
    english = decide(BILINGUAL, facts(confidence=0.95))
    assert (english.route, english.queue) == (Route.AUTO_REPLY, "support")
    chinese = decide(BILINGUAL, facts(language="zh", confidence=0.95))  # a higher minimum for Chinese
    assert (chinese.route, chinese.queue) == (Route.DRAFT, "support_zh")
    assert chinese.reasons == ["confidence_below_threshold:0.950<0.990"]
    assert decide(BILINGUAL, facts(language="zh-Hans", confidence=0.995)).route is Route.AUTO_REPLY
    billing = decide(BILINGUAL, facts(language="zh", intent="payment_failed"))
    assert billing.queue == "support_zh"  # the team that reads the language takes every intent
    escalated = decide(BILINGUAL, facts(language="zh", out_of_scope=True))
    assert (escalated.route, escalated.queue) == (Route.ESCALATE, "tier2_zh")
    unsupported = decide(BILINGUAL, facts(language="ja"))
    assert (unsupported.queue, unsupported.reasons) == ("tier2", ["unsupported_language:ja"])
    off = parse_policy({**BILINGUAL.model_dump(), "by_language": {"zh": {"auto_reply": False}}})
    assert "auto_reply_not_enabled_for_language:zh" in decide(off, facts(language="zh")).reasons


def test_a_language_rule_needs_its_language_served() -> None:
    with pytest.raises(PolicyError, match=r"by_language names zh, not in languages"):
        parse_policy({"languages": ["en"], "by_language": {"zh": {"queue": "support_zh"}}})


def test_without_a_language_list_the_classifiers_languages_are_served() -> None:
    default = load_policy(None)
    assert default.languages is None
    chinese = decide(default, facts(language="zh", language_supported=True))
    assert chinese.route is Route.DRAFT and not any(r.startswith("unsupported") for r in chinese.reasons)
    unknown = decide(default, facts(language="ja", language_supported=False))
    assert unknown.route is Route.ESCALATE and unknown.reasons == ["unsupported_language:ja"]
    rules = parse_policy({"by_language": {"zh": {"queue": "support_zh"}}}).by_language
    assert rules["zh"].queue == "support_zh"


def test_ticket_attributes_change_priority_queue_escalation_and_auto_reply() -> None:
    policy = parse_policy(
        {
            "auto_reply": {"enabled": True, "min_confidence": 0.9},
            "intents": {"discount_code": {"auto_reply": True}, "payment_failed": {"queue": "billing"}},
            "attributes": {
                "plan": {"enterprise": {"priority": "high", "queue": "vip", "auto_reply": False}},
                "flags": {"legal_hold": {"escalate": True}},
            },
        }
    )
    # an enterprise customer: their drafts go to the vip queue and never out automatically
    vip = decide(policy, facts(attributes={"plan": "enterprise"}))
    assert vip.route == Route.DRAFT and vip.queue == "vip"
    assert vip.reasons == ["auto_reply_not_enabled_for_attribute:plan=enterprise"]
    assert decide(policy, facts(intent="payment_failed", attributes={"plan": "enterprise"})).queue == "vip"
    # their priority is high: with negative sentiment, the senior rule escalates
    angry = decide(policy, facts(sentiment="negative", priority="low", attributes={"plan": "enterprise"}))
    assert angry.route == Route.ESCALATE and angry.queue == "senior"
    assert angry.reasons == ["negative_sentiment_high_priority"]
    # a list attribute matches when it holds the value
    held = decide(policy, facts(attributes={"flags": ["newsletter", "legal_hold"]}))
    assert held.route == Route.ESCALATE and held.reasons == ["attribute_requires_human:flags=legal_hold"]
    # no match: what the policy decides without attributes
    assert decide(policy, facts(attributes={"plan": "free"})).route == Route.AUTO_REPLY
    assert decide(policy, facts()).route == Route.AUTO_REPLY
    with pytest.raises(PolicyError, match="attributes"):
        parse_policy({"attributes": {"plan": {"enterprise": {"priority": "high", "colour": "red"}}}})
