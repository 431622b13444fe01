"""Messages the intake published and has not yet marked sent: the ack path does one insert and one publish,
and the relay thread marks what was published in one batched transaction a moment later (`flush_window_s`).

Until then a message is still claimed (`CLAIM_S`), so no relay touches it; a process that dies before
the flush leaves it claimed, and after the claim expires the relay publishes it again — at least once, as
everywhere in the outbox (a ticket already triaged is not classified twice)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.outbox.models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class SentLog:
    """A thread-safe list of published messages, oldest first; `on_first` is called (outside the lock)
    when one arrives in an empty log, so the flushing thread can start its window."""

    max_pending: int = 10_000
    on_first: Callable[[], None] | None = None
    _items: list[OutboxMessage] = field(default_factory=list, init=False)
    _since: float = field(default=0.0, init=False)  # when the oldest waiting message arrived
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def add(self, message: OutboxMessage) -> None:
        with self._lock:
            first = not self._items
            if first:
                self._since = time.monotonic()
            if len(self._items) < self.max_pending:
                self._items.append(message)
            else:  # the database away a long while: the relay publishes it again when its claim ends
                log.warning(
                    "outbox: %d marks waiting; message %s left to its claim", len(self._items), message.id
                )
        if first and self.on_first is not None:
            self.on_first()

    def wait_left(self, window_s: float) -> float | None:
        """Seconds until the oldest waiting message is due (0: now); None when none waits."""
        with self._lock:
            if not self._items:
                return None
            return max(0.0, self._since + window_s - time.monotonic())

    def take(self) -> list[OutboxMessage]:
        with self._lock:
            items, self._items = self._items, []
            return items

    def put_back(self, messages: list[OutboxMessage], *, retry_in_s: float) -> None:
        """A flush failed: the messages wait for the next one, due `retry_in_s` from now (ahead of newer
        ones, within the cap)."""
        with self._lock:
            room = max(0, self.max_pending - len(self._items))
            self._items[:0] = messages[:room]
            self._since = time.monotonic() + retry_in_s

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
