"""The relay: a daemon thread that publishes pending outbox messages. Every gateway process runs one;
a lease in the database lets one of them work at a time, so the backlog drains in order."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from shared.db.base import new_id
from shared.outbox.service import (
    Publish,
    count_pending,
    hold_lease,
    pending_counts,
    purge_sent,
    relay_pending,
)

log = logging.getLogger(__name__)
LEASE_NAME = "outbox-relay"
PURGE_EVERY_S = 300.0


@dataclass
class OutboxRelay:
    session_factory: sessionmaker[Session]
    publish: Publish
    interval_s: float = 0.5
    lease_s: float = 10.0
    retention_s: float = 86400.0
    batch: int = 200
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}")
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _last_purge: float = field(default=0.0, init=False)

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Something was left pending: look now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self.interval_s
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            try:
                failed = self.run_once()
            except Exception:  # the database away: keep the thread, try again later
                log.exception("outbox relay pass failed")
                failed = True
            backoff = min(backoff * 2, 5.0) if failed else self.interval_s

    def run_once(self) -> bool:
        """Drain what is pending while holding the lease; True when the broker refused a message. A pass
        that finds no free message (the common case: the intake publishes its own) only reads — no lease
        renewed, no claim written — unless the purge is due."""
        if not self._purge_due() and not pending_counts(session_factory=self.session_factory)[1]:
            return False
        if not hold_lease(
            session_factory=self.session_factory, name=LEASE_NAME, holder=self.holder, ttl_s=self.lease_s
        ):
            return False
        failed = False
        while not self._stop.is_set():
            result = relay_pending(
                session_factory=self.session_factory,
                publish=self.publish,
                batch=self.batch,
            )
            if result.sent:
                log.info("outbox relay published %d message(s)", result.sent)
            if result.error is not None:
                left = result.claimed - result.sent
                log.warning("outbox relay: broker refused (%s); %d left pending", result.error, left)
                failed = True
                break
            if result.claimed < self.batch:
                break
        count_pending(session_factory=self.session_factory)
        self._purge()
        return failed

    def _purge_due(self) -> bool:
        return time.monotonic() - self._last_purge >= PURGE_EVERY_S

    def _purge(self) -> None:
        if not self._purge_due():
            return
        self._last_purge = time.monotonic()
        removed = purge_sent(session_factory=self.session_factory, older_than_s=self.retention_s)
        if removed:
            log.info("outbox: removed %d message(s) sent more than %.0fs ago", removed, self.retention_s)
