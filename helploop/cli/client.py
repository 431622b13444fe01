"""`helploop send-test-ticket`: sign and post a ticket to the generic webhook, then wait for its triage."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from shared.settings import get_settings
from shared.signing import SIGNATURE_HEADER, sign


def ticket_payload(
    body: str, *, subject: str = "", event_id: str | None = None, customer_email: str = "alex.doe@example.com"
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{uuid.uuid4().hex}",
        "ticket": {
            "external_id": f"T-{uuid.uuid4().hex[:8]}",
            "subject": subject,
            "body": body,
            "customer": {"id": "cust-42", "email": customer_email, "name": "Alex Doe"},
            "channel": "email",
            "language": "en",
            "created_at": datetime.now(UTC).isoformat(),
        },
    }


def post_signed(
    base_url: str, payload: dict[str, Any], secret: str, *, timeout: float = 10
) -> requests.Response:
    raw = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}
    return requests.post(f"{base_url}/v1/webhooks/generic", data=raw, headers=headers, timeout=timeout)


def wait_for_triage(status_url: str, api_key: str, *, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = requests.get(status_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=5).json()
        if view.get("status") in ("triaged", "failed"):
            break
        time.sleep(0.2)
    return view


def cmd_send_test_ticket(args: argparse.Namespace) -> int:
    settings = get_settings()
    base_url = (args.url or settings.public_base_url).rstrip("/")
    started = time.monotonic()
    response = post_signed(
        base_url, ticket_payload(args.text, subject=args.subject), settings.webhook_secrets[0]
    )
    print(f"POST /v1/webhooks/generic -> {response.status_code} {response.text.strip()}")
    if response.status_code not in (200, 202):
        return 1
    view = wait_for_triage(response.json()["status_url"], settings.api_keys[0], timeout=args.timeout)
    print(json.dumps(view, indent=2))
    print(f"status {view.get('status')} after {time.monotonic() - started:.2f}s")
    return 0 if view.get("status") == "triaged" else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("send-test-ticket", help="post a signed ticket and print its classification")
    p.add_argument("text", help="the ticket body")
    p.add_argument("--subject", default="")
    p.add_argument("--url", help="gateway base URL (default: HELPLOOP_PUBLIC_BASE_URL)")
    p.add_argument("--timeout", type=float, default=15)
    p.set_defaults(handler=cmd_send_test_ticket)
