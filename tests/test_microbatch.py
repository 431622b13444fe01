"""Dynamic micro-batching: how batches form (a recording model), and parity on the real classifier."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from services.inference.context import onnx_threads, triage_predictor
from services.inference.microbatch import DirectPredictor, MicroBatcher
from shared.celery_app import create_celery
from shared.registry import Registry
from shared.runtime.classifier import HeadPrediction, OnnxClassifier, Prediction
from shared.settings import load_settings


@dataclass
class _Encoding:
    ids: list[int]


class RecordingModel:
    """Tokens = words; records every batch it is asked to run."""

    def __init__(self, version: str = "v1", *, fail: bool = False) -> None:
        self.version = version
        self.fail = fail
        self.batches: list[list[int]] = []

    def tokenize(self, texts: list[str]) -> list[list[_Encoding]]:
        return [[_Encoding(ids=list(range(len(t.split()))))] for t in texts]

    def predict_encoded(
        self, encodings: list[list[Any]], *, top_k: int, texts: list[str] | None = None
    ) -> list[Prediction]:
        assert texts is not None and len(texts) == len(encodings)  # a lexical companion needs them
        if self.fail:
            raise RuntimeError("model crashed")
        self.batches.append([len(e[0].ids) for e in encodings])
        return [Prediction({"intent": HeadPrediction(str(len(e[0].ids)), 1.0, [])}, 0.0) for e in encodings]


def _words(n: int) -> str:
    return " ".join(["w"] * n)


def test_a_batch_waits_for_an_announced_ticket_and_not_for_anyone_else() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(max_batch=8, max_wait_ms=10_000)
    reading, submit = threading.Event(), threading.Event()

    def announced_task() -> Prediction:
        with batcher.announce():
            reading.set()
            submit.wait(5)
            return batcher.predict(model, _words(2), top_k=1)

    with ThreadPoolExecutor(2) as pool:
        late = pool.submit(announced_task)
        reading.wait(5)
        early = pool.submit(batcher.predict, model, _words(3), top_k=1)
        time.sleep(0.2)
        submit.set()  # the batch holding the early ticket waited for this one
        assert early.result(10).primary.label == "3" and late.result(10).primary.label == "2"
    assert model.batches == [[3, 2]]

    started = time.monotonic()
    assert batcher.predict(model, _words(4), top_k=1).primary.label == "4"
    assert time.monotonic() - started < 5  # nothing announced: no 10 s wait
    assert model.batches[-1] == [4]


def test_batches_close_at_the_size_and_token_budgets_and_never_mix_models() -> None:
    first, second = RecordingModel("v1"), RecordingModel("v2")
    batcher = MicroBatcher(max_batch=3, max_tokens=10, max_wait_ms=500)
    requests = [(first, 4), (first, 4), (first, 4), (first, 1), (second, 1), (first, 1)]
    with batcher.announce(), ThreadPoolExecutor(len(requests)) as pool:
        # the announcement holds each batch open for its full wait: every request is queued by then
        futures = [pool.submit(batcher.predict, model, _words(n), top_k=1) for model, n in requests]
        time.sleep(0.1)
    for future, (_, n) in zip(futures, requests, strict=True):
        assert future.result(10).primary.label == str(n)
    assert all(len(b) <= 3 and sum(b) <= 10 for b in first.batches + second.batches)
    assert sorted(n for b in first.batches for n in b) == [1, 1, 4, 4, 4]
    assert second.batches == [[1]]


def test_every_waiting_ticket_sees_the_model_error() -> None:
    batcher = MicroBatcher(max_batch=4, max_wait_ms=1)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.predict, RecordingModel(fail=True), "a b", top_k=1) for _ in range(4)]
        for future in futures:
            with pytest.raises(RuntimeError, match="model crashed"):
                future.result(10)
    assert MicroBatcher(max_batch=2).predict(RecordingModel(), "a", top_k=1).primary.label == "1"


def test_concurrent_tickets_batched_on_the_real_classifier_match_one_at_a_time(
    trained_registry: Registry,
) -> None:
    version = trained_registry.active_version()
    assert version is not None
    classifier = OnnxClassifier(trained_registry.bundle_dir(version), version=version, intra_op_threads=1)
    texts = [
        "my card was charged twice",
        "where is my parcel? it has been two weeks and the tracking page shows nothing at all",
        "reset password",
        "I want a refund for the broken headphones I received yesterday, the left side is silent",
    ] * 6
    direct = [DirectPredictor().predict(classifier, t, top_k=3) for t in texts]
    batcher = MicroBatcher(max_batch=8, max_wait_ms=50)
    sizes: list[int] = []
    run = classifier.predict_encoded

    def recording(encodings: list[Any], *, top_k: int, texts: list[str] | None = None) -> list[Prediction]:
        sizes.append(len(encodings))
        return run(encodings, top_k=top_k, texts=texts)

    classifier.predict_encoded = recording  # type: ignore[method-assign]
    with batcher.announce(), ThreadPoolExecutor(len(texts)) as pool:
        batched = list(pool.map(lambda t: batcher.predict(classifier, t, top_k=3), texts))
    assert max(sizes) > 1 and sum(sizes) == len(texts)
    for one, other in zip(batched, direct, strict=True):
        for head, prediction in one.heads.items():
            assert prediction.label == other.heads[head].label
            assert np.isclose(prediction.confidence, other.heads[head].confidence, atol=1e-4)


def test_workers_batch_only_in_the_threads_pool_and_size_their_onnxruntime_threads() -> None:
    cores = len(os.sched_getaffinity(0))
    prefork = load_settings(env="test", worker_pool="prefork", worker_concurrency=2)
    threads = load_settings(env="test", worker_pool="threads", worker_concurrency=16, triage_batch_wait_ms=7)
    assert isinstance(triage_predictor(prefork), DirectPredictor)
    batcher = triage_predictor(threads)
    assert isinstance(batcher, MicroBatcher) and batcher.max_wait_s == pytest.approx(0.007)
    assert isinstance(triage_predictor(threads.model_copy(update={"triage_batch_max": 1})), DirectPredictor)
    assert onnx_threads(prefork) == max(1, cores // 2) and onnx_threads(threads) == cores
    assert onnx_threads(prefork.model_copy(update={"onnx_intra_op_threads": 3})) == 3
    quiet = create_celery(load_settings(env="test"))  # task events cost CPU: off unless asked
    assert quiet.conf.worker_send_task_events is False and quiet.conf.task_send_sent_event is False
    told = create_celery(load_settings(env="test", celery_task_events=True))
    assert told.conf.worker_send_task_events is True and told.conf.task_send_sent_event is True
