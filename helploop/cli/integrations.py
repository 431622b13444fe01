"""`helploop routing check|show` and `helploop integrations check`: validate the files before a deploy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.settings import get_settings


def cmd_routing(args: argparse.Namespace) -> int:
    from shared.routing.policy import RouteFacts, decide, load_policy

    path = Path(args.file) if args.file else get_settings().routing_policy_file
    policy = load_policy(path)  # a PolicyError names the file and the field
    if args.action == "show":
        print(json.dumps(policy.model_dump(mode="json"), indent=2))
        return 0
    if args.intent:
        facts = RouteFacts(intent=args.intent, confidence=args.confidence, out_of_scope=False, has_draft=True)
        decision = decide(policy, facts)
        print(f"{decision.route} → {decision.queue}: {'; '.join(decision.reasons)}")
        return 0
    auto = sorted(name for name, rule in policy.intents.items() if rule.auto_reply)
    state = "on" if policy.auto_reply.enabled else "off"
    print(
        f"{path or 'built-in policy'}: valid (version {policy.version}; auto-reply {state}; intents {auto})"
    )
    return 0


def cmd_integrations(args: argparse.Namespace) -> int:
    """Lists each integration's URLs; exit 1 when a secret is weak (a prod gateway would not start)."""
    from shared.integrations.config import load_integrations

    path = Path(args.file) if args.file else get_settings().integrations_file
    integrations = load_integrations(path)
    weak = [problem for integration in integrations.values() for problem in integration.weak_secrets()]
    base = get_settings().public_base_url.rstrip("/")
    for name, integration in integrations.items():
        target = integration.base_url or integration.callback_url or "—"
        write = "write-back to " + target if integration.writeback else "no write-back"
        print(f"{name}: {integration.provider}; webhook {base}/v1/webhooks/{name}; {write}")
    if not integrations:
        print("no integrations configured (HELPLOOP_INTEGRATIONS_FILE)")
    for problem in weak:
        print(f"weak secret: {problem}: a prod gateway refuses to start with it")
    return 1 if weak else 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("routing", help="validate or show the routing policy; try a decision")
    p.add_argument("action", choices=["check", "show"])
    p.add_argument("--file", help="policy YAML (default: HELPLOOP_ROUTING_POLICY_FILE or the built-in one)")
    p.add_argument("--intent", help="with check: route a ticket of this intent with a clean draft")
    p.add_argument("--confidence", type=float, default=0.99)
    p.set_defaults(handler=cmd_routing)
    p = commands.add_parser("integrations", help="validate the helpdesk integrations file")
    p.add_argument("action", choices=["check"])
    p.add_argument("--file", help="integrations YAML (default: HELPLOOP_INTEGRATIONS_FILE)")
    p.set_defaults(handler=cmd_integrations)
