"""A bundle whose intent head has a lexical companion, served: the logits are the graph's plus the weighted
n-gram scores in every path (one call, tokenized in another thread, the prefork and micro-batching
predictors), the other heads are untouched, and a path that drops the texts fails loudly."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.inference.microbatch import DirectPredictor, MicroBatcher
from services.trainer.data import load_examples
from services.trainer.lexical import LexicalFit, LexicalVocabulary, _linear
from services.trainer.linear_baseline import DEFAULT_CONFIG, build_classifier
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier
from tests.conftest import HEADS

TEXTS = [
    "my card was charged twice for one order",
    "where is my parcel? it has been two weeks and the tracking page shows nothing at all",
    "reset password",
    "I want a refund for the broken headphones I received yesterday, the left side is silent",
] * 3
WEIGHT = 2.0


@pytest.fixture(scope="module")
def with_lexical(
    trained_registry: Registry, train_config: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The active bundle copied, its intent head given a companion fitted on all the demo tickets at
    `WEIGHT`, the other heads' companions (where training kept one) taken off."""
    version = trained_registry.active_version()
    assert version is not None
    bundle = tmp_path_factory.mktemp("lexical") / "bundle"
    shutil.copytree(trained_registry.bundle_dir(version), bundle)
    config = json.loads((bundle / "config.json").read_text())
    for other in config["heads"]:
        other.update(lexical=None, lexical_weight=0.0)
    head = next(h for h in config["heads"] if h["name"] == "intent")
    examples = load_examples(train_config.train_file, head_columns=dict(HEADS))
    vocabulary = LexicalVocabulary.fit([e.text for e in examples])
    model = build_classifier(DEFAULT_CONFIG).fit(vocabulary.matrix, [e.labels["intent"] for e in examples])
    fit = LexicalFit("lexical_intent", WEIGHT, *_linear(model, head["labels"], vocabulary.runtime.size))
    vocabulary.save(bundle)
    head.update(fit.save(bundle))
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def test_the_intent_logits_are_the_graphs_plus_the_weighted_ngram_scores(with_lexical: Path) -> None:
    classifier = OnnxClassifier(with_lexical, version="lexical", intra_op_threads=1)
    graph = classifier.forward_windows(classifier.tokenize(TEXTS)).logits
    served = classifier.forward(TEXTS).logits
    scores = classifier.lexical["intent"].scores(classifier.lexical_features.rows(TEXTS))  # type: ignore[union-attr]
    assert classifier.lexical["intent"].weight == WEIGHT and np.abs(scores).max() > 0.1
    assert np.allclose(served["intent"], graph["intent"] + WEIGHT * scores, atol=1e-5)
    for head in set(served) - {"intent"}:
        assert np.array_equal(served[head], graph[head])
    moved = (served["intent"].argmax(1) != graph["intent"].argmax(1)).sum()
    print(f"\n[lexical] {moved} of {len(TEXTS)} intents moved by the n-grams at weight {WEIGHT}")


def test_every_serving_path_gives_the_same_predictions(with_lexical: Path) -> None:
    classifier = OnnxClassifier(with_lexical, version="lexical", intra_op_threads=1)
    whole = classifier.predict(TEXTS)
    with pytest.raises(ValueError, match="pass the texts"):
        classifier.predict_encoded(classifier.tokenize(TEXTS))
    encoded = classifier.predict_encoded(classifier.tokenize(TEXTS), texts=TEXTS)
    direct = [DirectPredictor().predict(classifier, text, top_k=3) for text in TEXTS]
    batcher = MicroBatcher(max_batch=8, max_wait_ms=50)
    with batcher.announce(), ThreadPoolExecutor(len(TEXTS)) as pool:
        batched = list(pool.map(lambda t: batcher.predict(classifier, t, top_k=3), TEXTS))
    for path in (encoded, direct, batched):
        for one, other in zip(path, whole, strict=True):
            for head, prediction in one.heads.items():
                assert prediction.label == other.heads[head].label
                assert np.isclose(prediction.confidence, other.heads[head].confidence, atol=1e-4)


def test_the_report_sets_the_network_alone_beside_what_serves(with_lexical: Path, train_config: Any) -> None:
    from services.trainer.assessment import lexical_effect
    from services.trainer.evaluate import evaluate_bundle

    classifier = OnnxClassifier(with_lexical, version="lexical", intra_op_threads=1)
    examples = load_examples(train_config.train_file, head_columns=dict(HEADS))[:90]
    model_eval = evaluate_bundle(classifier, examples)
    effect = lexical_effect(classifier, examples, model_eval)
    assert set(effect) == {"intent"} and effect["intent"]["weight"] == WEIGHT
    graph = classifier.forward_windows(classifier.tokenize([e.text for e in examples])).logits["intent"]
    alone = np.mean(
        [
            classifier.heads[0].labels[i] == e.labels["intent"]
            for i, e in zip(graph.argmax(1), examples, strict=True)
        ]
    )
    assert effect["intent"]["accuracy_graph_alone"] == pytest.approx(alone)
    assert effect["intent"]["accuracy"] == model_eval["heads"]["intent"]["accuracy"]
