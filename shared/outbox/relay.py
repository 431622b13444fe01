"""The relay: a daemon thread that publishes pending outbox messages. Every gateway process runs one;
a lease in the database lets one of them work at a time, so the backlog drains in order. It also marks
sent, in one transaction per `flush_window_s`, what its own process's requests published (`SentLog`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from shared.db.base import new_id
from shared.outbox.sent_log import SentLog
from shared.outbox.service import (
    Publish,
    count_pending,
    hold_lease,
    mark_sent,
    pending_counts,
    purge_sent,
    relay_pending,
)

log = logging.getLogger(__name__)
LEASE_NAME = "outbox-relay"
PURGE_EVERY_S = 300.0
FLUSH_RETRY_S = 1.0  # after a failed flush (the database away), the marks wait this long
TRUST_S = 1.0  # how long a pass that saw no backlog is believed: the intake's grace (`add_message`)


@dataclass
class OutboxRelay:
    session_factory: sessionmaker[Session]
    publish: Publish
    interval_s: float = 0.5
    lease_s: float = 10.0
    retention_s: float = 86400.0
    batch: int = 200
    flush_window_s: float = 0.25
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}")
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _last_purge: float = field(default=0.0, init=False)
    _pass_asked: bool = field(default=False, init=False)
    _clear_until: float = field(default=0.0, init=False)
    sent: SentLog = field(init=False)

    def __post_init__(self) -> None:
        self.sent = SentLog(on_first=self._wake.set)

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Something was left pending: look now rather than at the next tick."""
        self._clear_until = 0.0
        self._pass_asked = True
        self._wake.set()

    def no_backlog(self) -> bool:
        """This relay's last pass, at most `TRUST_S` (or two intervals) ago, found no message waiting for a
        publisher, and nothing was left pending here since: the intake may publish a new ticket's message at
        once without asking the database (`add_message`'s check). A message left pending elsewhere since is
        at most that old — within the intake's grace for concurrent requests."""
        return time.monotonic() < self._clear_until

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; what this process published is marked sent before it returns."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush_sent()

    def _run(self) -> None:
        backoff = self.interval_s
        next_pass = time.monotonic() + backoff
        while not self._stop.is_set():
            self._wake.wait(self._until_due(next_pass))
            self._wake.clear()
            if self.sent.wait_left(self.flush_window_s) == 0.0:
                self.flush_sent()
            if not (self._pass_asked or time.monotonic() >= next_pass):
                continue
            self._pass_asked = False
            try:
                failed = self.run_once()
            except Exception:  # the database away: keep the thread, try again later
                log.exception("outbox relay pass failed")
                failed = True
            backoff = min(backoff * 2, 5.0) if failed else self.interval_s
            next_pass = time.monotonic() + backoff
        self.flush_sent()

    def _until_due(self, next_pass: float) -> float:
        """Seconds to sleep: until the next pass, or sooner when published messages are due a flush."""
        left = max(0.0, next_pass - time.monotonic())
        flush = self.sent.wait_left(self.flush_window_s)
        return left if flush is None else min(left, flush)

    def flush_sent(self) -> int:
        """Mark this process's published messages sent (their tickets queued) in one transaction; on a
        failure they wait `FLUSH_RETRY_S` and are tried again (their claims keep other relays off)."""
        messages = self.sent.take()
        if not messages:
            return 0
        try:
            mark_sent(session_factory=self.session_factory, messages=messages)
        except Exception as exc:
            log.warning("outbox: %d published message(s) not marked sent yet (%s)", len(messages), exc)
            self.sent.put_back(messages, retry_in_s=FLUSH_RETRY_S)
            return 0
        return len(messages)

    def run_once(self) -> bool:
        """Drain what is pending while holding the lease; True when the broker refused a message. A pass
        that finds no free message (the common case: the intake publishes its own) only reads — no lease
        renewed, no claim written — unless the purge is due. Such a pass also tells the intake that no
        backlog waits (`no_backlog`)."""
        if not self._purge_due():
            waiting = pending_counts(session_factory=self.session_factory)[1]
            trust = min(2 * self.interval_s, TRUST_S)
            self._clear_until = time.monotonic() + trust if not waiting else 0.0
            if not waiting:
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
