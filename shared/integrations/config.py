"""Helpdesk integrations, read from a YAML file (`HELPLOOP_INTEGRATIONS_FILE`).

Each integration has a name (its webhook URL is `/v1/webhooks/<name>`), a provider, what the gateway needs
to verify the provider's webhooks, and what the write-back worker needs to call the provider's API.
Secrets are written as `${ENV_VAR}` so the file itself holds none; they are `SecretStr` and never logged.

Checked at load: names are unique and a helpdesk may not take a built-in source's name (`api`, `generic`:
its write-back would then receive API tickets with callers' external ids); secrets that authenticate
(webhook secrets, Freshdesk tokens, callback secrets) must not be empty, placeholders or under 16 bytes —
`strict` loading (prod) refuses such a file, otherwise each is logged as a warning.
"""

from __future__ import annotations

import logging
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

from shared.settings import secret_problem
from shared.validation import describe_errors

log = logging.getLogger(__name__)
RESERVED_NAMES = frozenset({"api", "generic"})  # ticket sources of the API and the generic webhook
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
    # attachments: downloaded from the base_url's host and these (e.g. Zendesk's file host), with the API
    # credentials sent to the base_url's host only; private addresses only for an on-premises helpdesk
    attachment_hosts: list[str] = Field(default_factory=list)
    attachments_allow_private: bool = False
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
        if self.name in RESERVED_NAMES and self.provider is not Provider.GENERIC:
            raise ValueError(
                f"the name {self.name!r} is reserved for tickets from the API and the generic webhook "
                "(only a `provider: generic` entry may take it); name the helpdesk something else"
            )
        return self

    def weak_secrets(self) -> list[str]:
        """Each secret that authenticates requests and is unfit to (see `secret_problem`), by field."""
        named: list[tuple[str, SecretStr | None]] = [
            (f"webhook_secrets[{index}]", secret) for index, secret in enumerate(self.webhook_secrets)
        ]
        named += [("webhook_token", self.webhook_token), ("callback_secret", self.callback_secret)]
        problems = []
        for field_name, secret in named:
            if secret is not None and (problem := secret_problem(secret.get_secret_value())):
                problems.append(f"integrations.{self.name}.{field_name} {problem}")
        return problems

    @property
    def secrets(self) -> list[str]:
        """The webhook secrets that can verify a signature: an empty one never does (any sender could sign
        with an empty key), whatever the environment."""
        return [s.get_secret_value() for s in self.webhook_secrets if s.get_secret_value().strip()]


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that names a key twice (plain YAML keeps the last silently)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise IntegrationError(f"{key!r} appears twice (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def check_secrets(integrations: dict[str, Integration], *, strict: bool) -> list[str]:
    """Weak secrets: `strict` raises IntegrationError naming them all, else they are logged and returned."""
    problems = [problem for integration in integrations.values() for problem in integration.weak_secrets()]
    if problems and strict:
        raise IntegrationError("; ".join(problems) + " (set real secrets, or HELPLOOP_ENV=dev)")
    for problem in problems:
        log.warning("weak integration secret: %s (a prod gateway refuses to start)", problem)
    return problems


def load_integrations(path: Path | None, *, strict: bool = False) -> dict[str, Integration]:
    """No file: no helpdesk integrations (the generic webhook and the API still work). `strict` (prod):
    weak secrets refuse the file; otherwise they are logged."""
    if path is None:
        return {}
    try:
        document = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader
        integrations = parse_integrations(document)
        check_secrets(integrations, strict=strict)
        return integrations
    except (OSError, yaml.YAMLError, IntegrationError) as exc:
        raise IntegrationError(f"{path}: {exc}") from None
