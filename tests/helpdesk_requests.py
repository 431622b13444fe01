"""Build what each helpdesk sends: its fixture payload and its signature headers (tests only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
SECRETS = {
    "zendesk": "zendesk-webhook-signing-secret-01",
    "zammad": "zammad-hmac-token-0123456789abc",
    "jira": "jira-webhook-secret-0123456789ab",
    "freshdesk": "freshdesk-url-token-0123456789abcdef",
}
API_TOKEN = "helpdesk-api-token-do-not-log-0001"
CREATED = {  # each integration's new-ticket fixture
    "zendesk": "zendesk_ticket_created",
    "zammad": "zammad_ticket_created",
    "jira": "jira_issue_created",
    "freshdesk": "freshdesk_ticket_created",
}
PROVIDERS = {"zendesk": "zendesk", "zammad": "zammad", "jira": "jira_sm", "freshdesk": "freshdesk"}


def fixture(name: str) -> dict[str, Any]:
    document = json.loads((FIXTURES / f"{name}.json").read_text())
    if "timestamp" in document:
        document["timestamp"] = int(time.time() * 1000)
    return document


def signed(
    name: str, body: bytes, *, secret: str | None = None, age_s: float = 0
) -> tuple[str, dict[str, str]]:
    """(path, headers) for integration `name` posting `body`."""
    secret = SECRETS[name] if secret is None else secret
    path = f"/v1/webhooks/{name}"
    if name == "zendesk":
        stamp = datetime.fromtimestamp(time.time() - age_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
        return path, {
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        }
    if name == "zammad":
        digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        return path, {"X-Hub-Signature": f"sha1={digest}", "X-Zammad-Delivery": "d6c1f0e2-delivery"}
    if name == "jira":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return path, {"X-Hub-Signature": f"sha256={digest}"}
    return f"{path}/{secret}", {}


def integrations_yaml(path: Path, helpdesk_url: str, *, callback_url: str | None = None) -> Path:
    """An integrations file with all four helpdesks pointing at `helpdesk_url` (the recording fake)."""
    integrations: dict[str, Any] = {
        "zendesk": {
            "provider": "zendesk",
            "webhook_secrets": SECRETS["zendesk"],
            "base_url": helpdesk_url,
            "email": "helploop@acme.example",
            "api_token": "${HELPDESK_API_TOKEN}",
            "custom_fields": {"intent": 360001, "route": 360002},
            "attachments_allow_private": True,  # the fake serves attachments from 127.0.0.1
        },
        "zammad": {
            "provider": "zammad",
            "webhook_secrets": SECRETS["zammad"],
            "base_url": helpdesk_url,
            "api_token": "${HELPDESK_API_TOKEN}",
        },
        "jira": {
            "provider": "jira_sm",
            "webhook_secrets": SECRETS["jira"],
            "base_url": helpdesk_url,
            "email": "helploop@acme.example",
            "api_token": "${HELPDESK_API_TOKEN}",
        },
        "freshdesk": {
            "provider": "freshdesk",
            "webhook_token": SECRETS["freshdesk"],
            "base_url": helpdesk_url,
            "api_token": "${HELPDESK_API_TOKEN}",
        },
    }
    if callback_url:
        integrations["generic"] = {
            "provider": "generic",
            "callback_url": callback_url,
            "callback_secret": "callback-signing-secret-0123456",
        }
    path.write_text(yaml.safe_dump({"integrations": integrations}))
    return path
