"""Model construction on the real encoder: heads, freeze strategies, class weights, length grouping."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from services.trainer.base_model import MINILM_ENCODER, locate
from services.trainer.data import Example
from services.trainer.losses import IGNORE, class_weights, step_loss
from services.trainer.model import apply_freeze, build_classifier
from services.trainer.train import length_grouped_batches


@pytest.fixture(scope="module")
def encoder_dir() -> str:
    return str(locate(MINILM_ENCODER))


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_one_output_per_head_in_order(encoder_dir: str) -> None:
    model = build_classifier(encoder_dir, {"intent": 7, "sentiment": 3}, dropout=0.1).eval()
    ids = torch.tensor([[101, 2054, 2003, 102, 0]])
    outputs = model(ids, (ids > 0).long(), torch.zeros_like(ids))
    assert [o.shape for o in outputs] == [(1, 7), (1, 3)]


@pytest.mark.parametrize(
    ("strategy", "expect"),
    [
        ("none", lambda total, heads, layer, emb: total),
        ("embeddings", lambda total, heads, layer, emb: total - emb),
        ("bottom_n:2", lambda total, heads, layer, emb: total - emb - 2 * layer),
        ("head_only", lambda total, heads, layer, emb: heads),
    ],
)
def test_freeze_strategies(encoder_dir: str, strategy: str, expect) -> None:  # type: ignore[no-untyped-def]
    model = build_classifier(encoder_dir, {"intent": 5}, dropout=0.1)
    total = _trainable(model)
    heads = sum(p.numel() for p in model.heads.parameters())
    layer = sum(p.numel() for p in model.encoder.encoder.layer[0].parameters())
    emb = sum(p.numel() for p in model.encoder.embeddings.parameters())
    assert apply_freeze(model, strategy) == expect(total, heads, layer, emb)


def test_unknown_freeze_strategy(encoder_dir: str) -> None:
    with pytest.raises(ValueError, match="freeze strategy"):
        apply_freeze(build_classifier(encoder_dir, {"intent": 2}, dropout=0.0), "top_3")


def test_balanced_class_weights_follow_inverse_frequency() -> None:
    train = [Example("t", {"intent": "a"})] * 30 + [Example("t", {"intent": "b"})] * 10
    weights = class_weights(train, {"intent": ["a", "b"]}, "balanced")["intent"]
    assert torch.allclose(weights, torch.tensor([40 / 60, 40 / 20]))
    assert class_weights(train, {"intent": ["a", "b"]}, "none") == {}
    root = class_weights(train, {"intent": ["a", "b"]}, "sqrt")["intent"]
    assert torch.isclose(root[1] / root[0], torch.tensor(3.0).sqrt())  # the square root of balanced's ratio
    assert torch.isclose((root * torch.tensor([30.0, 10.0])).sum() / 40, torch.tensor(1.0))  # mean 1


def test_missing_labels_are_masked_out_of_the_loss() -> None:
    heads = SimpleNamespace(head_names=["intent", "priority"])
    logits = (torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([[5.0, -5.0], [9.0, -9.0]]))
    masked = step_loss(
        heads, logits, {"intent": torch.tensor([0, 1]), "priority": torch.tensor([IGNORE, 1])}, {}
    )
    only_row_two = torch.nn.functional.cross_entropy(logits[1][1:], torch.tensor([1]))
    intent = torch.nn.functional.cross_entropy(logits[0], torch.tensor([0, 1]))
    assert torch.isclose(masked, intent + only_row_two)
    all_missing = {"intent": torch.tensor([0, 1]), "priority": torch.tensor([IGNORE, IGNORE])}
    assert torch.isclose(step_loss(heads, logits, all_missing, {}), intent)


def test_length_grouped_batches_cover_everything_once_with_less_padding() -> None:
    rng = random.Random(0)
    examples = [Example("x" * rng.randint(5, 400), {"intent": "a"}) for _ in range(1000)]
    batches = length_grouped_batches(examples, 16, random.Random(1))
    assert sorted(id(e) for b in batches for e in b) == sorted(id(e) for e in examples)
    padded = sum(len(b) * max(len(e.text) for e in b) for b in batches)
    plain = [examples[i : i + 16] for i in range(0, 1000, 16)]
    assert padded < 0.7 * sum(len(b) * max(len(e.text) for e in b) for b in plain)
