"""Downloading a ticket's attachments without becoming a proxy into the network (SSRF) or a disk filler.

A helpdesk tells us where an attachment is (`content_url`, `attachment_url`, …); we fetch it on a worker,
never in a request, and only when every rule holds:
- the scheme is http(s) and the host is one the integration names (its `base_url`'s host, or hosts it
  lists); credentials are sent to the hosts that should see them only (`credential_hosts`);
- every address the host resolves to is public — loopback, private, link-local (cloud metadata at
  169.254.169.254), multicast and reserved ranges are refused unless the policy allows private addresses
  (an on-premises helpdesk), and the address actually connected to is checked again (DNS rebinding);
- redirects are followed by hand, each hop checked by the same rules, at most `max_redirects`;
- the body is read in chunks and refused as soon as it passes `max_bytes` (a `Content-Length` above it is
  refused before reading; a compressed body counts as it expands); connect and read time out;
- the type is sniffed from the first bytes, not taken from the name or the header (`sniff`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from shared.media.refusal import Refused
from shared.media.sniff import sniff

CHUNK = 64 * 1024
Resolver = Callable[[str, int], list[str]]


class FetchRefused(Refused):
    """A download the policy does not allow."""


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: frozenset[str]
    max_bytes: int = 10 * 1024 * 1024
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    max_redirects: int = 3
    allow_private: bool = False


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content: bytes
    sha256: str
    kind: str  # sniffed: image/png, application/pdf, audio/wav, … or application/octet-stream


def system_resolver(host: str, port: int) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, policy: FetchPolicy, resolve: Resolver = system_resolver) -> None:
    """Raise FetchRefused unless `url` may be fetched under `policy` (scheme, host, addresses)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("bad_url", f"not an http(s) URL: {url[:200]}")
    if parts.username or parts.password:
        raise FetchRefused("bad_url", "credentials in the URL")
    host = parts.hostname.lower().rstrip(".")
    if host not in policy.allowed_hosts:
        raise FetchRefused("host_not_allowed", host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise FetchRefused("unresolvable", host) from exc
    _check_addresses(host, addresses, policy)


def _check_addresses(host: str, addresses: Iterable[str], policy: FetchPolicy) -> None:
    addresses = list(addresses)
    if not addresses:
        raise FetchRefused("unresolvable", host)
    if not policy.allow_private and not all(_public(a) for a in addresses):
        raise FetchRefused("private_address", f"{host} -> {', '.join(addresses)}")


def _peer(response: requests.Response) -> str | None:
    """The address the response came from: the socket of urllib3's connection, or — when http.client let
    the connection go because the server closes it after the body — the socket the body is read from."""
    connection = getattr(response.raw, "_connection", None)
    body = getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None)
    for sock in (getattr(connection, "sock", None), getattr(body, "_sock", None)):
        try:
            if sock is not None:
                return str(sock.getpeername()[0])
        except OSError:
            continue
    return None


def _check_peer(response: requests.Response, host: str, policy: FetchPolicy) -> None:
    """The address connected to obeys the policy too; fail closed when it cannot be read."""
    peer = _peer(response)
    if peer is not None:
        _check_addresses(host, [peer], policy)
    elif not policy.allow_private:
        raise FetchRefused("unverified_address", "the connected address could not be read")


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused("too_large", f"Content-Length {declared} > {max_bytes}")
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused("too_large", f"more than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(
    url: str,
    *,
    policy: FetchPolicy,
    auth: Any = None,
    headers: dict[str, str] | None = None,
    credential_hosts: frozenset[str] | None = None,
    session: requests.Session | None = None,
    resolve: Resolver = system_resolver,
) -> Fetched:
    """Download `url` under `policy` (FetchRefused says why not; requests' errors for the network).
    `auth` and `headers` (credentials) go only to `credential_hosts` (default: every allowed host): a
    redirect to the helpdesk's file storage does not carry its API token."""
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment: the address checked is the one reached
    trusted = policy.allowed_hosts if credential_hosts is None else credential_hosts
    for _hop in range(policy.max_redirects + 1):
        check_url(url, policy, resolve)
        timeout = (policy.connect_timeout_s, policy.read_timeout_s)
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        credentials = {"auth": auth, "headers": headers} if host in trusted else {}
        with session.get(url, stream=True, allow_redirects=False, timeout=timeout, **credentials) as response:
            _check_peer(response, urlsplit(url).hostname or "", policy)
            if response.is_redirect:
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.status_code != 200:
                raise FetchRefused("http_error", f"HTTP {response.status_code}")
            content = _read_capped(response, policy.max_bytes)
            return Fetched(url, content, hashlib.sha256(content).hexdigest(), sniff(content))
    raise FetchRefused("too_many_redirects", f"more than {policy.max_redirects}")
