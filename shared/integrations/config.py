"""Helpdesk integrations, read from a YAML file (`HELPLOOP_INTEGRATIONS_FILE`).

Each integration has a name (its webhook URL is `/v1/webhooks/<name>`), a provider, what the gateway needs
to verify the provider's webhooks, and what the write-back worker needs to call the provider's API.
Secrets are written as `${ENV_VAR}` so the file itself holds none; they are `SecretStr` and never logged.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.validation import describe_errors

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"


class Provider(StrEnum):
    ZENDESK = "zendesk"
    ZAMMAD = "zammad"
    FRESHDESK = "freshdesk"
    JIRA_SM = "jira_sm"
    GENERIC = "generic"


class IntegrationError(ValueError):
    """The integrations file is unreadable or invalid; the message names the file and the field."""


class Integration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    provider: Provider
    # inbound: HMAC secrets (two during a rotation); Freshdesk has no signatures: a token in the URL path
    # or HTTP basic auth password
    webhook_secrets: list[SecretStr] = Field(default_factory=list)
    webhook_token: SecretStr | None = None
    # outbound: the helpdesk's API
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    email: str | None = None  # Zendesk / Jira: the agent account the API token belongs to
    api_token: SecretStr | None = None
    custom_fields: dict[str, int] = Field(default_factory=dict)  # Zendesk: {"intent": 360001, ...}
    writeback: bool = True
    # generic: a signed outbound webhook
    callback_url: str | None = Field(default=None, pattern=r"^https?://")
    callback_secret: SecretStr | None = None

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _complete(self) -> Integration:
        missing = [field for field in _required(self) if not getattr(self, field)]
        if missing:
            raise ValueError(f"{self.provider} integration needs {', '.join(missing)}")
        return self

    @property
    def secrets(self) -> list[str]:
        return [s.get_secret_value() for s in self.webhook_secrets]


def _required(integration: Integration) -> list[str]:
    inbound = {
        Provider.ZENDESK: ["webhook_secrets"],
        Provider.ZAMMAD: ["webhook_secrets"],
        Provider.JIRA_SM: ["webhook_secrets"],
        Provider.FRESHDESK: ["webhook_token"],
        Provider.GENERIC: [],
    }[integration.provider]
    if not integration.writeback:
        return inbound
    outbound = {
        Provider.ZENDESK: ["base_url", "email", "api_token"],
        Provider.ZAMMAD: ["base_url", "api_token"],
        Provider.FRESHDESK: ["base_url", "api_token"],
        Provider.JIRA_SM: ["base_url", "email", "api_token"],
        Provider.GENERIC: ["callback_url", "callback_secret"],
    }[integration.provider]
    return inbound + outbound


def _interpolate(value: Any, environ: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, environ) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in environ:
            raise IntegrationError(f"environment variable {match.group(1)} is not set")
        return environ[match.group(1)]

    return ENV_REFERENCE.sub(replace, value)


def parse_integrations(document: Any, *, environ: dict[str, str] | None = None) -> dict[str, Integration]:
    """`{"integrations": {name: {...}}}` → validated integrations by name."""
    if not isinstance(document, dict) or not isinstance(document.get("integrations"), dict):
        raise IntegrationError("expected a mapping with an 'integrations' mapping of name → settings")
    environ = dict(os.environ) if environ is None else environ
    out: dict[str, Integration] = {}
    for name, raw in document["integrations"].items():
        if not isinstance(raw, dict):
            raise IntegrationError(f"integrations.{name}: expected a mapping")
        try:
            out[str(name)] = Integration(name=str(name), **_interpolate(raw, environ))
        except ValidationError as exc:
            problems = describe_errors(exc, root="settings")
            raise IntegrationError(f"integrations.{name}: {problems}") from None
        except IntegrationError as exc:
            raise IntegrationError(f"integrations.{name}: {exc}") from None
    return out


def load_integrations(path: Path | None) -> dict[str, Integration]:
    """No file: no helpdesk integrations (the generic webhook and the API still work)."""
    if path is None:
        return {}
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return parse_integrations(document)
    except (OSError, yaml.YAMLError, IntegrationError) as exc:
        raise IntegrationError(f"{path}: {exc}") from None
