"""Where a ticket's URL attachments may be fetched from, and with which credentials: a helpdesk ticket from
its integration's `base_url` host and `attachment_hosts`, with the integration's API credentials sent to
the `base_url` host only; an API or generic-webhook ticket from `HELPLOOP_MEDIA_ALLOWED_HOSTS`, without
credentials. Anything else is refused by the fetch (`host_not_allowed`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.integrations.config import Integration, Provider
from shared.media.fetch import FetchPolicy


@dataclass(frozen=True)
class FetchAccess:
    policy: FetchPolicy
    auth: tuple[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    credential_hosts: frozenset[str] = frozenset()

    def fetch_kwargs(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "auth": self.auth,
            "headers": self.headers or None,
            "credential_hosts": self.credential_hosts,
        }


def _host(url: str | None) -> str | None:
    host = urlsplit(url or "").hostname
    return host.lower().rstrip(".") if host else None


def _hosts(names: list[str]) -> set[str]:
    return {name.strip().lower().rstrip(".") for name in names if name.strip()}


def _credentials(integration: Integration) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """The helpdesk API's own scheme (the same as the write-back's)."""
    token = integration.api_token.get_secret_value() if integration.api_token else ""
    if not token:
        return None, {}
    provider = integration.provider
    if provider is Provider.ZENDESK:
        return (f"{integration.email}/token", token), {}
    if provider is Provider.ZAMMAD:
        return None, {"Authorization": f"Token token={token}"}
    if provider is Provider.FRESHDESK:
        return (token, "X"), {}
    if provider is Provider.JIRA_SM:
        return (integration.email or "", token), {}
    return None, {}


def access_for(
    integration: Integration | None,
    *,
    allowed_hosts: list[str],
    allow_private: bool,
    max_bytes: int,
) -> FetchAccess:
    """The fetch policy and credentials for a ticket from `integration` (None: API or generic webhook)."""
    if integration is None or integration.provider is Provider.GENERIC:
        hosts = _hosts(allowed_hosts) | (_hosts(integration.attachment_hosts) if integration else set())
        policy = FetchPolicy(frozenset(hosts), max_bytes=max_bytes, allow_private=allow_private)
        return FetchAccess(policy)
    base = _host(integration.base_url)
    hosts = _hosts(integration.attachment_hosts) | ({base} if base else set())
    private = integration.attachments_allow_private
    policy = FetchPolicy(frozenset(hosts), max_bytes=max_bytes, allow_private=private)
    auth, headers = _credentials(integration)
    return FetchAccess(policy, auth, headers, frozenset({base}) if base else frozenset())
