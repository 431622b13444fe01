"""`helploop send-test-ticket`: sign and post a ticket to the generic webhook (files given with `--attach`
go inline, as base64), wait for its triage and its draft, and print both (the whole ticket view, then a
one-screen summary: the attachments' text, the classification that used it, the draft)."""

from __future__ import annotations

import argparse
import base64
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.settings import get_settings
from shared.signing import SIGNATURE_HEADER, sign

if TYPE_CHECKING:  # imported where it is used: every `helploop` command imports this module's parser
    import requests


def attachment_entries(paths: list[Path]) -> list[dict[str, Any]]:
    """Each file inline, as base64 (its type is sniffed from the bytes by the worker, not from the name)."""
    return [
        {"filename": path.name, "content_base64": base64.b64encode(path.read_bytes()).decode("ascii")}
        for path in paths
    ]


def ticket_payload(
    body: str,
    *,
    subject: str = "",
    event_id: str | None = None,
    customer_email: str = "alex.doe@example.com",
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{uuid.uuid4().hex}",
        "ticket": {
            "external_id": f"T-{uuid.uuid4().hex[:8]}",
            "subject": subject,
            "body": body,
            "customer": {"id": "cust-42", "email": customer_email, "name": "Alex Doe"},
            "channel": "email",
            "created_at": datetime.now(UTC).isoformat(),
            "attachments": attachments or [],
        },
    }


def post_signed(
    base_url: str, payload: dict[str, Any], secret: str, *, timeout: float = 10
) -> requests.Response:
    import requests

    raw = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}
    return requests.post(f"{base_url}/v1/webhooks/generic", data=raw, headers=headers, timeout=timeout)


def wait_for_triage(status_url: str, api_key: str, *, timeout: float = 15) -> dict[str, Any]:
    import requests

    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = requests.get(status_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=5).json()
        if view.get("status") in ("triaged", "failed"):
            break
        time.sleep(0.2)
    return view


def wait_for_draft(status_url: str, api_key: str, view: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """The ticket view once its draft is stored (or as it is after `timeout`)."""
    import requests

    deadline = time.monotonic() + timeout
    while not view.get("draft") and view.get("status") == "triaged" and time.monotonic() < deadline:
        time.sleep(0.5)
        view = requests.get(status_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=5).json()
    return view


def attachment_lines(view: dict[str, Any]) -> list[str]:
    lines = []
    for item in view.get("attachments") or []:
        head = f"attachment {item.get('filename')}: {item.get('status')} ({item.get('kind')}"
        if item.get("engine"):
            head += f", {item['engine']}, confidence {item.get('confidence') or 0:.2f}"
        if item.get("error"):
            head += f", {item['error']}: {item.get('error_detail')}"
        lines.append(head + f"; in the classification: {str(item.get('in_classification')).lower()})")
        lines.extend(f"  | {line}" for line in str(item.get("text") or "").splitlines()[:12])
    if view.get("attachment_decision"):
        lines.append(f"attachments' effect on the decision: {view['attachment_decision']}")
    return lines


def summary(view: dict[str, Any]) -> str:
    """What a person checks first: the attachments' text, intent, language, route, the draft and what it
    cites."""
    result = view.get("classification") or {}
    routing = view.get("routing") or {}
    draft = view.get("draft") or {}
    lines = [
        *attachment_lines(view),
        f"intent: {result.get('label')} (confidence {result.get('confidence', 0):.2f}"
        f"{', out of scope' if result.get('out_of_scope') else ''})",
        f"language: {result.get('language')}",
        f"language_supported: {str(result.get('language_supported')).lower()}",
        f"route: {routing.get('route')} -> queue {routing.get('queue')} "
        f"({'; '.join(routing.get('reasons', []))})",
    ]
    if draft:
        flags = ", ".join(draft.get("flags", [])) or "none"
        lines.append(
            f"draft ({draft.get('source')}, flags: {flags}; cites {', '.join(draft.get('citations', []))}):"
        )
        lines.extend(f"  {line}" for line in str(draft.get("text", "")).splitlines())
    else:
        lines.append("draft: none yet (drafts are off, or the drafts worker is still busy)")
    return "\n".join(lines)


def cmd_send_test_ticket(args: argparse.Namespace) -> int:
    settings = get_settings()
    base_url = (args.url or settings.public_base_url).rstrip("/")
    started = time.monotonic()
    missing = [str(path) for path in args.attach if not path.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)} (give --attach a path to an image, PDF or audio file)")
        return 2
    payload = ticket_payload(args.text, subject=args.subject, attachments=attachment_entries(args.attach))
    response = post_signed(base_url, payload, settings.webhook_secrets[0], timeout=60)
    print(f"POST /v1/webhooks/generic -> {response.status_code} {response.text.strip()}")
    if response.status_code not in (200, 202):
        return 1
    status_url = response.json()["status_url"]
    view = wait_for_triage(status_url, settings.api_keys[0], timeout=args.timeout)
    triaged = time.monotonic() - started
    if args.draft_timeout > 0:
        view = wait_for_draft(status_url, settings.api_keys[0], view, timeout=args.draft_timeout)
    print(json.dumps(view, indent=2, ensure_ascii=False))
    print(summary(view))
    print(f"status {view.get('status')} after {triaged:.2f}s; draft after {time.monotonic() - started:.2f}s")
    return 0 if view.get("status") == "triaged" else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("send-test-ticket", help="post a signed ticket and print its classification")
    p.add_argument("text", help="the ticket body")
    p.add_argument("--subject", default="")
    p.add_argument(
        "--attach",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="attach a file (a screenshot, a PDF, a voice message; repeat for more): its text is read by "
        "the media worker and joins the classification and the draft",
    )
    p.add_argument("--url", help="gateway base URL (default: HELPLOOP_PUBLIC_BASE_URL)")
    p.add_argument("--timeout", type=float, default=15, help="seconds to wait for the classification")
    p.add_argument(
        "--draft-timeout",
        type=float,
        default=120,
        help="seconds to wait for the draft as well (0: do not wait)",
    )
    p.set_defaults(handler=cmd_send_test_ticket)
