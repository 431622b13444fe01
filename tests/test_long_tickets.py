"""Tickets longer than the window through the real exported classifier: the bundle records its policy,
head+tail reads the request at the end that truncation drops, pooled windows equal the weighted mean of
the windows run one by one, and the micro-batch path gives what `predict` gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from services.trainer.config import TrainConfig
from services.trainer.data import Example
from services.trainer.long_tickets import FILLER, evaluate_long
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier
from shared.runtime.long_text import DEFAULT_POLICY, windows

REQUEST = "Where is my parcel? The order was shipped ten days ago and the tracking has not moved since."
LONG = " ".join(FILLER) + " " + REQUEST


def _with_policy(registry: Registry, tmp_path: Path, policy: str) -> OnnxClassifier:
    version = registry.active_version()
    bundle = tmp_path / policy
    shutil.copytree(registry.bundle_dir(version), bundle)
    config = json.loads((bundle / "config.json").read_text())
    (bundle / "config.json").write_text(json.dumps({**config, "long_text": policy}))
    return OnnxClassifier(bundle, version=version)


def test_new_bundles_record_the_default_policy(trained_registry: Registry) -> None:
    bundle = trained_registry.bundle_dir(trained_registry.active_version())
    assert json.loads((bundle / "config.json").read_text())["long_text"] == DEFAULT_POLICY
    assert OnnxClassifier(bundle, version="x").long_text == DEFAULT_POLICY


def test_head_tail_reads_the_end_that_truncation_drops(trained_registry: Registry, tmp_path: Path) -> None:
    truncate = _with_policy(trained_registry, tmp_path, "truncate")
    head_tail = _with_policy(trained_registry, tmp_path, "head_tail")
    assert len(truncate.raw_tokenizer.encode(LONG).ids) > 2 * truncate.max_length
    first = truncate.tokenize([LONG])[0][0].ids
    both = head_tail.tokenize([LONG])[0][0].ids
    request_ids = truncate.raw_tokenizer.encode(REQUEST).ids[1:-1]
    assert len(first) == len(both) == truncate.max_length
    assert not set(request_ids) <= set(first) and set(request_ids) <= set(both)
    short = "My parcel has not arrived."
    assert np.allclose(truncate.logits([short]), head_tail.logits([short]), atol=1e-6)


def test_chunks_answer_from_the_most_confident_window(trained_registry: Registry, tmp_path: Path) -> None:
    chunks = _with_policy(trained_registry, tmp_path, "chunks")
    parts = windows(chunks.raw_tokenizer.encode(LONG), chunks.max_length)
    assert len(parts) >= 3 and chunks.tokenize([LONG])[0] == parts
    one_by_one = [chunks.forward_windows([[p]], with_embedding=True) for p in parts]
    logits = np.concatenate([f.logits["intent"] for f in one_by_one])
    best = int(np.argmax(np.exp(logits).max(axis=1) / np.exp(logits).sum(axis=1)))
    both = chunks.forward_windows(chunks.tokenize([LONG, "short one"]), with_embedding=True)  # graph alone
    for head, values in both.logits.items():
        assert np.allclose(values[0], one_by_one[best].logits[head][0], atol=1e-5)
    assert np.allclose(both.embedding[0], one_by_one[best].embedding[0], atol=1e-5)
    batched = chunks.predict_encoded(chunks.tokenize([LONG, REQUEST]), texts=[LONG, REQUEST])
    direct = chunks.predict([LONG, REQUEST])
    assert [p.primary.label for p in batched] == [p.primary.label for p in direct]


def test_the_long_ticket_evaluation_scores_every_policy(trained_registry: Registry) -> None:
    classifier = OnnxClassifier(trained_registry.bundle_dir(trained_registry.active_version()), version="x")
    examples = [Example(REQUEST, {"intent": "where_is_my_order"})] * 6
    report = evaluate_long(classifier, examples, limit=6)
    assert set(report["policies"]) == {"truncate", "head_tail", "chunks"}
    assert report["median_tokens"] > classifier.max_length
    assert all(set(v) == {"accuracy", "start", "middle", "end"} for v in report["policies"].values())
    with pytest.raises(ValueError, match="long_text must be one of"):
        TrainConfig(train_file=Path("x.csv"), long_text="middle")
