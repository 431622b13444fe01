"""The few-shot stage's choice, pairs, batches and loss, and the few-shot benchmark's subsets (no model)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
import torch

from services.trainer import contrastive
from services.trainer.config import TrainConfig
from services.trainer.contrastive import cosine_pairs, should_run, supcon_batches, supcon_loss
from services.trainer.data import Example
from services.trainer.few_shot import subsample


def _examples(per_label: int, labels: int = 6) -> list[Example]:
    return [
        Example(f"text {lab} {i}", {"intent": f"l{lab}"}) for lab in range(labels) for i in range(per_label)
    ]


def test_auto_runs_the_stage_for_few_examples_per_label_only() -> None:
    config = TrainConfig(train_file=Path("x.csv"))
    ran, why = should_run(config, _examples(10))
    assert ran and "few-shot" in why
    ran, why = should_run(config, _examples(60))
    assert not ran and "60 examples per label" in why
    assert should_run(TrainConfig(train_file=Path("x.csv"), contrastive="never"), _examples(5))[0] is False
    assert should_run(TrainConfig(train_file=Path("x.csv"), contrastive="always"), _examples(500))[0] is True
    with pytest.raises(ValueError, match="contrastive must be one of"):
        TrainConfig(train_file=Path("x.csv"), contrastive="sometimes")


def test_cosine_pairs_are_positive_within_a_label_and_negative_across() -> None:
    groups = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"], "c": ["c1"]}
    pairs = cosine_pairs(groups, iterations=4, rng=random.Random(1))
    label_of = {text: label for label, texts in groups.items() for text in texts}
    positives = [(x, y) for x, y, target in pairs if target == 1.0]
    negatives = [(x, y) for x, y, target in pairs if target == 0.0]
    assert positives and all(label_of[x] == label_of[y] and x != y for x, y in positives)
    assert all(label_of[x] != label_of[y] for x, y in negatives)
    assert len(negatives) == 4 * 6 and len(positives) == 4 * 5  # "c1" has no partner: no positive


def test_supcon_batches_hold_several_labels_with_partners() -> None:
    groups = {f"l{i}": [f"t{i}-{j}" for j in range(6)] for i in range(10)}
    batches = supcon_batches(groups, iterations=5, batch_size=16, rng=random.Random(2))
    assert len(batches) == (60 * 5) // 16
    for batch in batches:
        counts = Counter(label for label, _ in batch)
        assert len(counts) == 4 and set(counts.values()) == {4}
        assert len({text for _, text in batch}) == len(batch)


def test_supcon_loss_is_lower_when_same_labels_are_close() -> None:
    labels = ["a", "a", "b", "b", "c", "c"]
    torch.manual_seed(0)
    centres = torch.randn(3, 8) * 5
    clustered = torch.stack([centres[ord(label) - ord("a")] + 0.1 * torch.randn(8) for label in labels])
    scattered = torch.randn(6, 8)
    assert supcon_loss(clustered, labels, 0.1) < supcon_loss(scattered, labels, 0.1)
    swapped = clustered[[0, 2, 1, 3, 4, 5]]  # one pair of each of a and b exchanged: positives far apart
    assert supcon_loss(clustered, labels, 0.1) < supcon_loss(swapped, labels, 0.1)


class _Encoded(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Linear(3, 2)
        self.encoder.register_buffer("steps", torch.tensor(0))  # not floating point: kept, not averaged


def test_the_soup_averages_runs_that_each_start_from_the_pre_trained_encoder(monkeypatch) -> None:
    model, seen = _Encoded(), []
    start = {k: v.clone() for k, v in model.encoder.state_dict().items()}

    def stage(model, tokenizer, train, config):  # a stand-in run: moves the weights by its seed
        seen.append((config.seed, model.encoder.weight.detach().clone()))
        with torch.no_grad():
            model.encoder.weight += config.seed
            model.encoder.steps += 1
        return {"loss": "supcon", "steps": 1, "last_loss": float(config.seed), "seconds": 1.0}

    monkeypatch.setattr(contrastive, "contrastive_stage", stage)
    config = TrainConfig(train_file=Path("x.csv"), seed=13, contrastive_runs=3)
    report = contrastive.contrastive_soup(model, None, [], config)
    assert [seed for seed, _ in seen] == [13, 14, 15]
    assert all(torch.equal(weights, start["weight"]) for _, weights in seen)  # each run from the start
    assert torch.allclose(model.encoder.weight, start["weight"] + 14.0)  # the mean of +13, +14, +15
    assert torch.equal(model.encoder.bias, start["bias"])
    assert int(model.encoder.steps) == 0  # an integer buffer is the pre-trained one
    assert report["runs"] == 3 and report["last_loss"] == [13.0, 14.0, 15.0] and report["seconds"] == 3.0
    single = TrainConfig(train_file=Path("x.csv"), seed=5, contrastive_runs=1)
    one = contrastive.contrastive_soup(model, None, [], single)
    assert "runs" not in one and seen[-1][0] == 5  # one run: the stage itself
    with pytest.raises(ValueError, match="contrastive_runs"):
        TrainConfig(train_file=Path("x.csv"), contrastive_runs=0)


def test_few_shot_subsets_are_seeded_per_label_and_keep_every_column(tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    rows = [{"text": f"q{i}", "label": f"l{i % 5}", "domain": f"d{i % 2}"} for i in range(100)]
    rows.append({"text": "rare", "label": "rare", "domain": "d0"})
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = subsample(source, tmp_path / "a.jsonl", per_label=3, label_column="label", seed=7)
    again = subsample(source, tmp_path / "b.jsonl", per_label=3, label_column="label", seed=7)
    other = subsample(source, tmp_path / "c.jsonl", per_label=3, label_column="label", seed=8)
    chosen = [json.loads(line) for line in first.read_text().splitlines()]
    assert Counter(r["label"] for r in chosen) == {**{f"l{i}": 3 for i in range(5)}, "rare": 1}
    assert all(set(r) == {"text", "label", "domain"} for r in chosen)
    assert first.read_text() == again.read_text() != other.read_text()
