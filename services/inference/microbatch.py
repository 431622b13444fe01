"""Dynamic micro-batching for a worker that runs triage tasks in threads (`--pool threads`).

Each task thread tokenizes its own ticket (off the model's critical path) and hands the token ids to one
batcher thread per process, which runs what has arrived as one length-sorted graph call, the way TEI and
Triton batch: the batch closes at `max_batch` texts or `max_tokens` padded tokens, and waits at most
`max_wait_ms` after its first request, and only while other task threads have announced a ticket they are
still reading from the database. Nothing announced: the batch runs at once, so a lone ticket pays no wait.
While a batch runs, new requests queue and form the next one (continuous batching).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.metrics import MICROBATCH_TICKETS
from shared.runtime.classifier import Prediction

log = logging.getLogger(__name__)


class BatchableModel(Protocol):
    version: str

    def tokenize(self, texts: list[str]) -> list[list[Any]]: ...  # per text, its windows' encodings

    def predict_encoded(
        self, encodings: list[list[Any]], *, top_k: int, texts: list[str] | None = None
    ) -> list[Prediction]: ...


@dataclass
class _Request:
    model: BatchableModel
    windows: list[Any]  # the ticket's encodings: one, or several for a ticket past the window (chunks)
    top_k: int
    text: str = ""  # for a head's lexical companion
    submitted: float = field(default_factory=time.monotonic)
    future: Future[Prediction] = field(default_factory=Future)

    @property
    def tokens(self) -> int:
        return sum(len(window.ids) for window in self.windows)

    def fits_with(self, first: _Request) -> bool:
        return self.model is first.model and self.top_k == first.top_k


class MicroBatcher:
    """Coalesces single-ticket predictions from concurrent threads into batched graph runs."""

    def __init__(
        self,
        *,
        max_batch: int = 32,
        max_tokens: int = 4096,
        max_wait_ms: float = 2.0,
        timeout_s: float = 60.0,
    ) -> None:
        self.max_batch = max_batch
        self.max_tokens = max_tokens
        self.max_wait_s = max_wait_ms / 1000.0
        self.timeout_s = timeout_s
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._held: _Request | None = None  # did not fit the last batch: it opens the next one
        self._announced = 0  # task threads reading a ticket they will submit
        self._local = threading.local()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def announce(self) -> Iterator[None]:
        """Around the work that precedes `predict` in a task: a forming batch may wait for this one."""
        with self._lock:
            self._announced += 1
        self._local.announced = True
        try:
            yield
        finally:
            self._withdraw()

    def _withdraw(self) -> None:
        if getattr(self._local, "announced", False):
            self._local.announced = False
            with self._lock:
                self._announced -= 1

    def predict(self, model: BatchableModel, text: str, *, top_k: int) -> Prediction:
        """One ticket's prediction from the next batch; TimeoutError after `timeout_s`."""
        request = _Request(model, model.tokenize([text])[0], top_k, text)
        self._ensure_thread()
        self._withdraw()  # a forming batch no longer waits for this thread: its request is in the queue
        self._queue.put(request)
        return request.future.result(timeout=self.timeout_s)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="microbatcher", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while True:
            batch = self._collect()
            try:
                self._run(batch)
            except Exception:  # never reached: _run hands every error to the waiting futures
                log.exception("micro-batch of %d failed", len(batch))

    def _collect(self) -> list[_Request]:
        first = self._held or self._queue.get()
        self._held = None
        batch, tokens = [first], first.tokens
        deadline = first.submitted + self.max_wait_s
        while len(batch) < self.max_batch:
            request = self._next(deadline)
            if request is None:
                break
            if not request.fits_with(first) or tokens + request.tokens > self.max_tokens:
                self._held = request
                break
            batch.append(request)
            tokens += request.tokens
        return batch

    def _next(self, deadline: float) -> _Request | None:
        """What is queued now; otherwise wait until `deadline` while another ticket is announced."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            pass
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._waiting_for_more():
            return None
        try:
            return self._queue.get(timeout=remaining)
        except queue.Empty:
            return None

    def _waiting_for_more(self) -> bool:
        with self._lock:
            return self._announced > 0

    def _run(self, batch: list[_Request]) -> None:
        first = batch[0]
        MICROBATCH_TICKETS.observe(len(batch))
        try:
            windows, texts = [r.windows for r in batch], [r.text for r in batch]
            predictions = first.model.predict_encoded(windows, top_k=first.top_k, texts=texts)
        except Exception as exc:  # every waiting task sees the error and retries on its own
            for request in batch:
                request.future.set_exception(exc)
            return
        for request, prediction in zip(batch, predictions, strict=True):
            request.future.set_result(prediction)


class DirectPredictor:
    """The prefork path: one task per process, nothing to batch with."""

    @contextmanager
    def announce(self) -> Iterator[None]:
        yield

    def predict(self, model: BatchableModel, text: str, *, top_k: int) -> Prediction:
        return model.predict_encoded(model.tokenize([text]), top_k=top_k, texts=[text])[0]
