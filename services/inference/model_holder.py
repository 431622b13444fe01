"""What a worker process serves: loaded lazily after fork, swapped when the registry's active version
changes (the classifier bundle, the sentence encoder of the knowledge base, the generator).

A swap never interrupts work: a task keeps the model object it started with; a version announced over
pub/sub is loaded in the background while tasks go on with the old one; the per-task pointer check is the
safety net when an announcement was missed (then the next task loads it)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from shared.metrics import MODEL_LOAD, MODEL_SERVED
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier

log = logging.getLogger(__name__)


class Versioned(Protocol):
    version: str


T = TypeVar("T", bound=Versioned)


class ModelUnavailable(Exception):
    """No active model yet (e.g. still bootstrapping); the task is retried later."""


class ActiveArtifact(Generic[T]):
    """Reads the registry's active pointer on every `get()` and swaps between tasks."""

    def __init__(
        self, registry: Registry, load: Callable[[Path, str], T], *, kind: str = "classifier"
    ) -> None:
        self.registry = registry
        self.kind = kind  # metric label: classifier, encoder, generator
        self._load = load
        self._current: T | None = None
        self._previous: T | None = None
        self._loading: str | None = None  # the version a background preload is reading
        self._lock = threading.Lock()

    def _load_verified(self, version: str) -> T:
        started = time.perf_counter()
        self.registry.verify(version)
        model = self._load(self.registry.bundle_dir(version), version)
        MODEL_LOAD.labels(self.kind).observe(time.perf_counter() - started)
        return model

    def get(self) -> T:
        version = self.registry.active_version()
        if version is None:
            raise ModelUnavailable(f"nothing active in {self.registry.root}")
        current = self._current
        if current is not None and (current.version == version or self._loading == version):
            return current  # up to date, or the new version is still loading in the background
        with self._lock:
            if self._current is None or self._current.version != version:
                self._switch(self._kept(version) or self._load_verified(version))
                log.info("serving %s from %s", version, self.registry.root)
            return self._current  # type: ignore[return-value]

    def preload(self, version: str) -> None:
        """Load `version` off the task path (called by the model-event listener) and switch to it."""
        with self._lock:
            if self._current is not None and self._current.version == version:
                return
            if (kept := self._kept(version)) is not None:
                self._switch(kept)
                return
            self._loading = version
            try:
                loaded = self._load_verified(version)
            finally:
                self._loading = None
            self._switch(loaded)
            log.info("preloaded %s from %s", version, self.registry.root)

    def _kept(self, version: str) -> T | None:
        """The model served before the current one stays loaded: a rollback switches back at once."""
        previous = self._previous
        return previous if previous is not None and previous.version == version else None

    def _switch(self, model: T) -> None:
        if self._current is not None:
            MODEL_SERVED.labels(self.kind, self._current.version).set(0)
        MODEL_SERVED.labels(self.kind, model.version).set(1)
        self._previous, self._current = self._current, model


class PinnedModels(Generic[T]):
    """Specific versions on demand (the shadow model, a reclassification job's model), the last
    `capacity` kept loaded."""

    def __init__(self, registry: Registry, load: Callable[[Path, str], T], *, capacity: int = 2) -> None:
        self.registry = registry
        self._load = load
        self._capacity = capacity
        self._loaded: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: str) -> T:
        with self._lock:
            if version in self._loaded:
                self._loaded.move_to_end(version)
                return self._loaded[version]
            self.registry.verify(version)
            model = self._load(self.registry.bundle_dir(version), version)
            self._loaded[version] = model
            while len(self._loaded) > self._capacity:
                self._loaded.popitem(last=False)
            return model


def _classifier_loader(intra_op_threads: int) -> Callable[[Path, str], OnnxClassifier]:
    return lambda path, version: OnnxClassifier(path, version=version, intra_op_threads=intra_op_threads)


class ActiveModel(ActiveArtifact[OnnxClassifier]):
    """The active classifier bundle."""

    def __init__(self, registry: Registry, *, intra_op_threads: int = 0) -> None:
        super().__init__(registry, _classifier_loader(intra_op_threads))


class ClassifierVersions(PinnedModels[OnnxClassifier]):
    """Classifier bundles by version."""

    def __init__(self, registry: Registry, *, intra_op_threads: int = 0) -> None:
        super().__init__(registry, _classifier_loader(intra_op_threads))
