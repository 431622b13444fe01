"""Model lifecycle events over Redis pub/sub: an activation, rollback or shadow change is announced at
once; workers subscribe and load the new bundle in the background before the next task needs it.

Pub/sub is fire-and-forget: a worker that misses a message still switches, because every task reads the
registry's active pointer (a tiny file) — the announcement only moves the load off the task's path.
Channels are server-wide in Redis (not per database): the channel carries the database number, so two
deployments sharing one Redis server on different databases never hear each other's announcements.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger(__name__)
CHANNEL = "helploop:models"  # + ":<db>" (channel_for)
Handler = Callable[[dict[str, Any]], None]


def channel_for(client: redis.Redis) -> str:
    """`helploop:models:<db>`: the channel of the database `client` uses."""
    return f"{CHANNEL}:{client.connection_pool.connection_kwargs.get('db', 0)}"


def announce(client: redis.Redis | None, *, registry: str, event: str, version: str | None) -> bool:
    """Publish {"registry", "event", "version"}; False (logged) when Redis is away — never raises."""
    if client is None:
        return False
    message = json.dumps({"registry": registry, "event": event, "version": version})
    try:
        receivers = client.publish(channel_for(client), message)
    except redis.RedisError as exc:
        log.warning(
            "could not announce %s of %s: %s (workers pick it up on their next task)", event, version, exc
        )
        return False
    log.info("announced %s of %s %s to %d subscriber(s)", event, registry, version, receivers)
    return True


class ModelEventListener(threading.Thread):
    """A daemon thread per worker process: subscribes to its database's channel and calls `handler` for
    each event, reconnecting with a pause when Redis goes away."""

    def __init__(
        self, connect: Callable[[], redis.Redis], handler: Handler, *, reconnect_delay_s: float = 2.0
    ) -> None:
        super().__init__(name="model-events", daemon=True)
        self._connect = connect
        self._handler = handler
        self._delay = reconnect_delay_s
        self._stopping = threading.Event()
        self.subscribed = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except redis.RedisError as exc:
                self.subscribed.clear()
                log.warning("model events: %s; reconnecting in %.0fs", exc, self._delay)
                self._stopping.wait(self._delay)

    def _listen(self) -> None:
        client = self._connect()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(channel_for(client))
            self.subscribed.set()
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._dispatch(message["data"])
        finally:
            pubsub.close()
            client.close()

    def _dispatch(self, data: bytes | str) -> None:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            log.warning("model events: ignoring a malformed message")
            return
        try:
            self._handler(event)
        except Exception:  # a failed background load is retried by the task's own check
            log.exception("model events: handling %s failed", event)
