"""What a worker process serves: loaded lazily after fork, reloaded when the registry's active version
changes (the classifier bundle, and the sentence encoder of the knowledge base)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier

log = logging.getLogger(__name__)


class Versioned(Protocol):
    version: str


T = TypeVar("T", bound=Versioned)


class ModelUnavailable(Exception):
    """No active model yet (e.g. still bootstrapping); the task is retried later."""


class ActiveArtifact(Generic[T]):
    """Reads the registry's active pointer on every `get()` (a tiny file) and swaps between tasks."""

    def __init__(self, registry: Registry, load: Callable[[Path, str], T]) -> None:
        self.registry = registry
        self._load = load
        self._current: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        version = self.registry.active_version()
        if version is None:
            raise ModelUnavailable(f"nothing active in {self.registry.root}")
        current = self._current
        if current is not None and current.version == version:
            return current
        with self._lock:
            if self._current is None or self._current.version != version:
                self.registry.verify(version)
                self._current = self._load(self.registry.bundle_dir(version), version)
            return self._current


class ActiveModel(ActiveArtifact[OnnxClassifier]):
    """The active classifier bundle."""

    def __init__(self, registry: Registry, *, intra_op_threads: int = 0) -> None:
        super().__init__(
            registry,
            lambda path, version: OnnxClassifier(path, version=version, intra_op_threads=intra_op_threads),
        )
