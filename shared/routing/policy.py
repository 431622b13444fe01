"""The routing policy: a YAML file validated at load, reloaded when it changes, applied per ticket.

`decide(policy, facts)` is a pure function: route ∈ {auto_reply, draft, escalate}, a target queue and the
reasons, in the order they were found. A guardrail-flagged or missing draft is never auto-sent. A policy
may branch on the ticket's language (`by_language`): its own queues (a team that reads it), auto-reply off
or a higher confidence minimum for it. A ticket in a language the classifier was not trained on, or not in the
policy's `languages` when it lists them, still goes to a human with the reason.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.validation import describe_errors

log = logging.getLogger(__name__)
DEFAULT_POLICY = Path(__file__).with_name("default_policy.yml")


class Route(StrEnum):
    AUTO_REPLY = "auto_reply"
    DRAFT = "draft"
    ESCALATE = "escalate"


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; the message names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoReply(_Strict):
    enabled: bool = False
    min_confidence: float = Field(default=0.95, ge=0, le=1)


class Queues(_Strict):
    default: str = "support"
    escalation: str = "tier2"
    senior: str = "senior"


class Senior(_Strict):
    sentiments: list[str] = Field(default_factory=lambda: ["negative"])
    priorities: list[str] = Field(default_factory=lambda: ["high"])


class IntentRule(_Strict):
    auto_reply: bool = False
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    escalate: bool = False
    queue: str | None = None


class LanguageRule(_Strict):
    """What changes for tickets in one language (every field optional)."""

    queue: str | None = None  # drafts and auto-replies: replaces the default and the intents' queues
    escalation_queue: str | None = None  # escalations (and senior ones) in this language
    auto_reply: bool = True  # false: never auto-reply in this language
    min_confidence: float | None = Field(default=None, ge=0, le=1)  # a further minimum, never less


class AttributeRule(_Strict):
    """What changes for tickets whose attribute has this value (e.g. `plan: enterprise`)."""

    priority: str | None = None  # replaces the predicted priority (the senior rule reads it)
    queue: str | None = None  # drafts and auto-replies: replaces the intents' and the default queue
    escalate: bool = False
    auto_reply: bool = True  # false: never auto-reply to these customers


class RoutingPolicy(_Strict):
    version: int = 1
    auto_reply: AutoReply = AutoReply()
    queues: Queues = Queues()
    # the languages the team answers in; unset: those the classifier was trained on (`language_supported`)
    languages: list[str] | None = None
    by_language: dict[str, LanguageRule] = Field(default_factory=dict)
    senior: Senior = Senior()
    intents: dict[str, IntentRule] = Field(default_factory=dict)
    # attribute → value → rule, e.g. {plan: {enterprise: {priority: high, queue: vip}}}
    attributes: dict[str, dict[str, AttributeRule]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rules_for_served_languages(self) -> RoutingPolicy:
        if self.languages is None:  # served = what the model knows; decided per ticket
            return self
        unserved = sorted(set(self.by_language) - set(self.languages))
        if unserved:
            raise ValueError(f"by_language names {', '.join(unserved)}, not in languages: add it there too")
        return self


@dataclass(frozen=True)
class RouteFacts:
    """What the decision reads: the triage result and the draft (if any)."""

    intent: str
    confidence: float
    out_of_scope: bool
    language: str | None = None
    language_supported: bool | None = None
    sentiment: str | None = None
    priority: str | None = None
    has_draft: bool = False
    draft_flags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)  # the ticket's, from the helpdesk


@dataclass(frozen=True)
class RouteDecision:
    route: Route
    queue: str
    reasons: list[str]


def _escalation_reasons(policy: RoutingPolicy, facts: RouteFacts, rule: IntentRule) -> list[str]:
    reasons = []
    if facts.out_of_scope:
        reasons.append("out_of_scope")
    language = _language(facts)
    listed = policy.languages is None or not language or language in policy.languages
    if facts.language_supported is False or not listed:
        reasons.append(f"unsupported_language:{language or 'unknown'}")
    if rule.escalate:
        reasons.append(f"intent_requires_human:{facts.intent}")
    return reasons


def _language(facts: RouteFacts) -> str:
    return (facts.language or "").split("-")[0].lower()


def _auto_reply_blockers(
    policy: RoutingPolicy, facts: RouteFacts, rule: IntentRule, language: LanguageRule
) -> list[str]:
    blockers = []
    if not policy.auto_reply.enabled:
        blockers.append("auto_reply_disabled")
    if not rule.auto_reply:
        blockers.append(f"auto_reply_not_enabled_for_intent:{facts.intent}")
    if not language.auto_reply:
        blockers.append(f"auto_reply_not_enabled_for_language:{_language(facts)}")
    needed = max(policy.auto_reply.min_confidence, rule.min_confidence or 0.0, language.min_confidence or 0.0)
    if facts.confidence < needed:
        blockers.append(f"confidence_below_threshold:{facts.confidence:.3f}<{needed:.3f}")
    if not facts.has_draft:
        blockers.append("no_draft")
    blockers.extend(f"draft_flagged:{flag}" for flag in facts.draft_flags)
    return blockers


def matching_attributes(policy: RoutingPolicy, facts: RouteFacts) -> list[tuple[str, AttributeRule]]:
    """("plan=enterprise", its rule) for each attribute rule the ticket matches (a list value matches
    when it contains the rule's value)."""
    matched = []
    for key, rules in policy.attributes.items():
        value = facts.attributes.get(key)
        values = (
            [str(v) for v in value] if isinstance(value, list) else [str(value)] if value is not None else []
        )
        matched += [(f"{key}={v}", rules[v]) for v in values if v in rules]
    return matched


def decide(policy: RoutingPolicy, facts: RouteFacts) -> RouteDecision:
    rule = policy.intents.get(facts.intent, IntentRule())
    language = policy.by_language.get(_language(facts), LanguageRule())
    attributes = matching_attributes(policy, facts)
    priority = next((r.priority for _, r in attributes if r.priority), facts.priority)
    senior = facts.sentiment in policy.senior.sentiments and priority in policy.senior.priorities
    escalation = _escalation_reasons(policy, facts, rule)
    escalation += [f"attribute_requires_human:{name}" for name, r in attributes if r.escalate]
    if senior:
        escalation.append(f"{facts.sentiment}_sentiment_{priority}_priority")
    if escalation:
        queue = language.escalation_queue or (policy.queues.senior if senior else policy.queues.escalation)
        return RouteDecision(Route.ESCALATE, queue, escalation)
    attribute_queue = next((r.queue for _, r in attributes if r.queue), None)
    queue = language.queue or attribute_queue or rule.queue or policy.queues.default
    blockers = _auto_reply_blockers(policy, facts, rule, language)
    blockers += [f"auto_reply_not_enabled_for_attribute:{name}" for name, r in attributes if not r.auto_reply]
    if blockers:
        return RouteDecision(Route.DRAFT, queue, blockers)
    return RouteDecision(
        Route.AUTO_REPLY, queue, [f"auto_reply_allowed:{facts.intent}@{facts.confidence:.3f}"]
    )


def parse_policy(document: Any, *, source: str = "policy") -> RoutingPolicy:
    try:
        return RoutingPolicy.model_validate(document if document is not None else {})
    except ValidationError as exc:
        raise PolicyError(f"{source}: {describe_errors(exc, root='policy')}") from None


def load_policy(path: Path | None) -> RoutingPolicy:
    path = path or DEFAULT_POLICY
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: {exc}") from None
    return parse_policy(document, source=str(path))


class PolicyHolder:
    """The current policy, re-read when the file's mtime changes; an invalid new version is logged and
    the previous valid one stays in force (a typo never takes routing down)."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path or DEFAULT_POLICY)
        self._lock = threading.Lock()
        self._stamp = self._mtime()
        self._policy = load_policy(self.path)  # invalid at start: the process refuses to start

    def _mtime(self) -> float:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return -1

    def get(self) -> RoutingPolicy:
        stamp = self._mtime()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._policy = load_policy(self.path)
                        log.info("routing policy reloaded from %s", self.path)
                    except PolicyError as exc:
                        log.error("routing policy not reloaded, keeping the previous one: %s", exc)
        return self._policy
