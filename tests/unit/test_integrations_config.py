"""Integrations file: secrets from the environment, per-provider completeness, secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.integrations.config import IntegrationError, load_integrations, parse_integrations


def test_secrets_come_from_the_environment_and_are_never_printed() -> None:
    document = {
        "integrations": {
            "zendesk": {
                "provider": "zendesk",
                "webhook_secrets": ["${ZD_SECRET}", "old-secret-during-rotation"],
                "base_url": "https://acme.zendesk.com",
                "email": "bot@acme.example",
                "api_token": "${ZD_TOKEN}",
            }
        }
    }
    integrations = parse_integrations(
        document, environ={"ZD_SECRET": "s3cr3t-value", "ZD_TOKEN": "tok-value"}
    )
    zendesk = integrations["zendesk"]
    assert zendesk.secrets == ["s3cr3t-value", "old-secret-during-rotation"]
    assert zendesk.api_token is not None and zendesk.api_token.get_secret_value() == "tok-value"
    assert "s3cr3t-value" not in repr(zendesk) and "tok-value" not in str(zendesk)


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="ZD_TOKEN is not set"):
        parse_integrations(
            {"integrations": {"zd": {"provider": "zendesk", "api_token": "${ZD_TOKEN}"}}}, environ={}
        )
    with pytest.raises(IntegrationError, match=r"integrations.zd: .*needs webhook_secrets, base_url, email"):
        parse_integrations({"integrations": {"zd": {"provider": "zendesk"}}}, environ={})
    with pytest.raises(IntegrationError, match="needs webhook_token"):
        parse_integrations(
            {"integrations": {"fd": {"provider": "freshdesk", "writeback": False}}}, environ={}
        )
    with pytest.raises(IntegrationError, match="provider"):
        parse_integrations({"integrations": {"x": {"provider": "helpscout"}}}, environ={})
    path = tmp_path / "integrations.yml"
    path.write_text("integrations: [1, 2]")
    with pytest.raises(IntegrationError, match=str(path)):
        load_integrations(path)
    assert load_integrations(None) == {}


def test_the_access_log_masks_a_token_in_the_url_path() -> None:
    from services.gateway.access_log import redact_path

    line = "POST /v1/webhooks/freshdesk/s3cr3t-token-value HTTP/1.1"
    assert redact_path(line) == "POST /v1/webhooks/freshdesk/[redacted] HTTP/1.1"
    assert redact_path("POST /v1/webhooks/zendesk HTTP/1.1") == "POST /v1/webhooks/zendesk HTTP/1.1"
