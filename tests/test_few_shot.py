"""Few labelled examples on the real MiniLM-L6 encoder: `helploop train` picks the contrastive stage for a
tiny dataset by itself, the stage pulls same-intent tickets together, and the heads fitted on its frozen
embeddings already separate the intents."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from services.trainer.config import TrainConfig
from services.trainer.data import load_examples
from services.trainer.demo_data import write_dataset
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier
from tests.conftest import MODEL_CACHE


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six examples of each of five demo intents: a team's first labelled tickets."""
    folder = tmp_path_factory.mktemp("few")
    full = folder / "all.csv"
    write_dataset(full, per_intent=6, seed=11)
    with full.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keep = sorted({row["label"] for row in rows})[:5]
    path = folder / "tiny.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(row for row in rows if row["label"] in keep)
    return path


def _config(path: Path, **options: object) -> TrainConfig:
    return TrainConfig(
        train_file=path, base_model="minilm-l6", epochs=1, batch_size=16, max_length=64, **options
    )


def _separation(model: object, tokenizer: object, texts: list[str], labels: list[str]) -> float:
    """Mean cosine of same-label pairs minus that of different-label pairs."""
    from services.trainer.contrastive import _frozen_embeddings

    z = torch.nn.functional.normalize(_frozen_embeddings(model, tokenizer, texts, 64), dim=-1).numpy()
    cos = z @ z.T
    same = np.equal.outer(np.array(labels), np.array(labels))
    off = ~np.eye(len(labels), dtype=bool)
    return float(cos[same & off].mean() - cos[~same].mean())


def test_the_stage_pulls_same_intent_tickets_together_and_fits_the_heads(tiny_csv: Path) -> None:
    from transformers import AutoTokenizer

    from services.trainer.base_model import resolve_base_model
    from services.trainer.contrastive import contrastive_stage, fit_heads
    from services.trainer.model import build_classifier

    examples = load_examples(tiny_csv)
    texts, labels = [e.text for e in examples], [e.labels["intent"] for e in examples]
    base = resolve_base_model("minilm-l6", cache_dir=MODEL_CACHE)
    torch.manual_seed(0)
    model = build_classifier(str(base.directory), {"intent": len(set(labels))}, dropout=0.1)
    tokenizer = AutoTokenizer.from_pretrained(base.directory)
    before = _separation(model, tokenizer, texts, labels)
    config = _config(tiny_csv, contrastive_iterations=4, contrastive_learning_rate=1e-4)
    report = contrastive_stage(model, tokenizer, examples, config)
    after = _separation(model, tokenizer, texts, labels)
    assert report["steps"] == (len(examples) * 4) // config.batch_size
    assert report["last_loss"] < report["first_loss"]
    assert after > before + 0.05, (before, after)
    accuracy = fit_heads(model, tokenizer, examples, {"intent": sorted(set(labels))}, config)
    assert accuracy["intent"] >= 0.95


def test_helploop_train_picks_the_few_shot_path_for_a_tiny_dataset(tiny_csv: Path, tmp_path: Path) -> None:
    from services.trainer.pipeline import run_training

    registry = Registry(tmp_path / "models")
    config = _config(tiny_csv, max_steps=6, contrastive_iterations=4, lexical="auto")
    result = run_training(config, registry=registry, cache_dir=MODEL_CACHE)
    lexical = result.metrics["calibration"]["intent"]["lexical"]  # the companion: kept or not, and why
    assert set(lexical["validation_accuracy_by_weight"]) >= {"0", "4"}, lexical
    head = json.loads((result.bundle_dir / "config.json").read_text())["heads"][0]
    assert (
        bool(head.get("lexical"))
        is lexical["used"]
        is (result.bundle_dir / "lexical_features.json").is_file()
    )
    if lexical["used"]:
        assert (
            OnnxClassifier(result.bundle_dir, version="x").lexical["intent"].weight == lexical["weight"] > 0
        )
    few_shot = result.metrics["few_shot"]
    assert few_shot["ran"] is True and "few-shot" in few_shot["reason"], few_shot
    assert few_shot["steps"] == 6 and few_shot["head_train_accuracy"]["intent"] > 0.5
    assert few_shot["runs"] == 3 and len(few_shot["last_loss"]) == 3  # the default: a soup of three runs
    assert registry.verify(result.version)["training_config"]["contrastive"] == "auto"
