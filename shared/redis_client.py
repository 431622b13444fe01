"""The one place that turns `HELPLOOP_REDIS_URL` into a Redis client, a Celery broker and a result backend.

Two kinds of URL:
- `redis://[:password@]host:port/db` (or `rediss://` for TLS): one Redis server;
- `sentinel://[:password@]host:26379;sentinel://host2:26379;…/db` with `HELPLOOP_REDIS_SENTINEL_MASTER`:
  Redis Sentinel. Every component asks the sentinels for the current master, so a failover moves the
  broker, result backend, locks and model events together. The password in the URL is the master's;
  `HELPLOOP_REDIS_SENTINEL_PASSWORD` is the sentinels' own, if they have one. This is the format kombu's
  sentinel transport and Celery's sentinel result backend take, so the same URL serves all of them.
Redis Cluster is not supported: Celery's Redis transport needs every queue key on one node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

if TYPE_CHECKING:
    from shared.settings import Settings

SENTINEL_SCHEME = "sentinel"


@dataclass(frozen=True)
class SentinelTarget:
    hosts: list[tuple[str, int]]
    db: int
    password: str | None


def is_sentinel_url(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel_url(url: str) -> SentinelTarget:
    """`sentinel://:pw@h1:26379;sentinel://h2:26379/0` → hosts, db (from any part's path), password."""
    hosts: list[tuple[str, int]] = []
    db, password = 0, None
    for part in url.split(";"):
        parsed = urlsplit(part.strip())
        if parsed.scheme != SENTINEL_SCHEME or not parsed.hostname:
            raise ValueError(f"not a sentinel:// address: {part!r}")
        hosts.append((parsed.hostname, parsed.port or 26379))
        password = password or (unquote(parsed.password) if parsed.password else None)
        if parsed.path.strip("/"):
            db = int(parsed.path.strip("/"))
    return SentinelTarget(hosts, db, password)


def connect_redis(
    url: str,
    *,
    sentinel_master: str | None = None,
    sentinel_password: str | None = None,
    **client_kwargs: Any,
) -> redis.Redis:
    """A client for `url`; for a sentinel:// URL, one that follows the master through failovers."""
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **client_kwargs)
    if not sentinel_master:
        raise ValueError("a sentinel:// Redis URL needs HELPLOOP_REDIS_SENTINEL_MASTER (the master's name)")
    target = parse_sentinel_url(url)
    sentinel_kwargs = {
        key: client_kwargs[key]
        for key in ("socket_timeout", "socket_connect_timeout")
        if key in client_kwargs
    }
    if sentinel_password:
        sentinel_kwargs["password"] = sentinel_password
    sentinel = Sentinel(target.hosts, sentinel_kwargs=sentinel_kwargs, **client_kwargs)
    return sentinel.master_for(sentinel_master, db=target.db, password=target.password)


def sentinel_transport_options(sentinel_master: str | None, sentinel_password: str | None) -> dict[str, Any]:
    """What kombu's sentinel transport and Celery's sentinel backend need beside the URL."""
    options: dict[str, Any] = {"master_name": sentinel_master}
    if sentinel_password:
        options["sentinel_kwargs"] = {"password": sentinel_password}
    return options


def redis_from_settings(settings: Settings, **client_kwargs: Any) -> redis.Redis:
    return connect_redis(
        settings.redis_url,
        sentinel_master=settings.redis_sentinel_master,
        sentinel_password=settings.redis_sentinel_password,
        **client_kwargs,
    )
