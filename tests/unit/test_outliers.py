"""Pseudo out-of-scope tickets (services/trainer/outliers.py): mixes of two *different* in-scope intents'
embeddings, trained towards the out-of-scope class; nothing where a batch cannot make one."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from services.trainer.losses import IGNORE
from services.trainer.outliers import MIX_HIGH, MIX_LOW, pseudo_outlier_index, pseudo_outlier_loss


class RecordingHeads(torch.nn.Module):
    """A model's `classify`: records the embeddings it is given, returns fixed logits per head."""

    head_names = ("sentiment", "intent")

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.intent = torch.nn.Linear(2, 4)

    def classify(self, pooled: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.seen.append(pooled.detach().clone())
        return torch.zeros(len(pooled), 3), self.intent(pooled)


def test_the_index_is_the_primary_heads_oos_class_only_when_asked() -> None:
    labels = {"intent": ["a", "oos", "b"], "domain": ["x"]}
    config = SimpleNamespace(primary_head="intent", oos_label="oos", oos_pseudo_share=0.5)
    assert pseudo_outlier_index(config, labels) == 1
    assert pseudo_outlier_index(SimpleNamespace(**{**vars(config), "oos_pseudo_share": 0.0}), labels) is None
    assert pseudo_outlier_index(config, {"intent": ["a", "b"]}) is None


def test_mixes_join_two_different_intents_and_aim_at_the_oos_class() -> None:
    # rows: intent 0 at (1, 0), intent 2 at (0, 1), the oos class and an unlabelled row far away
    pooled = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [9.0, 9.0], [-9.0, -9.0]])
    target = torch.tensor([0, 0, 2, 2, 1, IGNORE])
    model = RecordingHeads()
    options = {"head": "intent", "oos_index": 1, "share": 4.0, "generator": torch.Generator().manual_seed(0)}
    loss = pseudo_outlier_loss(model, pooled, target, **options)
    assert loss is not None and loss.requires_grad
    mixed = model.seen[-1]
    assert len(mixed) > 0
    # every mix lies on the segment between the two intents' points, away from both ends
    assert torch.allclose(mixed.sum(dim=1), torch.ones(len(mixed)))
    assert ((mixed[:, 0] >= MIX_LOW - 1e-6) & (mixed[:, 0] <= MIX_HIGH + 1e-6)).all()
    logits = model.intent(mixed)
    expected = torch.nn.functional.cross_entropy(logits, torch.full((len(mixed),), 1))
    assert torch.isclose(loss, expected)


def test_a_batch_of_one_intent_makes_no_outlier() -> None:
    pooled = torch.randn(4, 2)
    options = {"head": "intent", "oos_index": 1, "share": 1.0, "generator": torch.Generator().manual_seed(0)}
    assert pseudo_outlier_loss(RecordingHeads(), pooled, torch.tensor([0, 0, 1, IGNORE]), **options) is None
    assert pseudo_outlier_loss(RecordingHeads(), pooled, torch.tensor([3, 3, 3, 3]), **options) is None
