"""One value per process, built on first use after fork: what a worker process holds (database engine,
Redis client, loaded models) is never inherited from the parent that forked it — sockets, connection pools
and model threads do not survive fork."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ProcessLocal(Generic[T]):
    def __init__(self) -> None:
        self._value: T | None = None
        self._pid: int | None = None

    @classmethod
    def holding(cls, value: T) -> ProcessLocal[T]:
        """One that already holds `value` in this process (tests hand a worker a context this way)."""
        local: ProcessLocal[T] = cls()
        local._value, local._pid = value, os.getpid()
        return local

    def get(self, build: Callable[[], T]) -> T:
        """This process's value; `build()` makes it the first time, and again in a forked child."""
        if self._value is None or self._pid != os.getpid():
            self._value, self._pid = build(), os.getpid()
        return self._value
