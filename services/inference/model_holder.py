"""The model a worker process serves: loaded lazily after fork, reloaded when the active version changes."""

from __future__ import annotations

import logging
import threading

from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier

log = logging.getLogger(__name__)


class ModelUnavailable(Exception):
    """No active model yet (e.g. still bootstrapping); the task is retried later."""


class ActiveModel:
    """Reads the registry's active pointer on every `get()` (a tiny file) and swaps between tasks."""

    def __init__(self, registry: Registry, *, intra_op_threads: int = 0) -> None:
        self.registry = registry
        self.intra_op_threads = intra_op_threads
        self._current: OnnxClassifier | None = None
        self._lock = threading.Lock()

    def get(self) -> OnnxClassifier:
        version = self.registry.active_version()
        if version is None:
            raise ModelUnavailable(f"no active model in {self.registry.root}")
        current = self._current
        if current is not None and current.version == version:
            return current
        with self._lock:
            if self._current is None or self._current.version != version:
                self.registry.verify(version)
                self._current = OnnxClassifier(
                    self.registry.bundle_dir(version), version=version, intra_op_threads=self.intra_op_threads
                )
            return self._current
