"""Pseudo out-of-scope tickets made in the embedding space, for a head that has an out-of-scope class.

A dataset's out-of-scope class is learned from the few off-topic examples it has (CLINC150: 100 among
15,000). Zhan et al. (2021, "Out-of-Scope Intent Detection with Self-Supervision and Discriminative
Training") add pseudo outliers: convex combinations of the pooled embeddings of two tickets of *different*
intents lie between the intents' regions, and the head learns to call them out of scope. Here each
training batch mixes `share × batch size` random pairs of its in-scope tickets (weights drawn between 0.3
and 0.7, so a mix belongs to neither intent), and the primary head's cross-entropy towards the
out-of-scope class is added to the step's loss; gradients reach the encoder through both embeddings.
"""

from __future__ import annotations

from typing import Any

import torch

from services.trainer.losses import IGNORE

MIX_LOW, MIX_HIGH = 0.3, 0.7


def pseudo_outlier_index(config: Any, head_labels: dict[str, list[str]]) -> int | None:
    """The primary head's out-of-scope class when pseudo outliers are asked for (`oos_pseudo_share`)."""
    labels = head_labels.get(config.primary_head, [])
    if config.oos_pseudo_share <= 0 or config.oos_label not in labels:
        return None
    return labels.index(config.oos_label)


def pseudo_outlier_loss(
    model: Any,
    pooled: torch.Tensor,
    target: torch.Tensor,
    *,
    head: str,
    oos_index: int,
    share: float,
    generator: torch.Generator,
) -> torch.Tensor | None:
    """Cross-entropy towards `oos_index` of the primary head on mixes of in-scope tickets of two different
    intents in this batch (`target`: the primary head's targets); None where the batch has no such pair."""
    known = ((target != IGNORE) & (target != oos_index)).nonzero().flatten()
    if len(known) < 2:
        return None
    pairs = max(1, round(share * len(target)))
    first = known[torch.randint(len(known), (pairs,), generator=generator)]
    second = known[torch.randint(len(known), (pairs,), generator=generator)]
    different = target[first] != target[second]
    first, second = first[different], second[different]
    if len(first) == 0:
        return None
    weight = torch.empty(len(first), 1).uniform_(MIX_LOW, MIX_HIGH, generator=generator).to(pooled.dtype)
    mixed = weight * pooled[first] + (1 - weight) * pooled[second]
    logits = model.classify(mixed)[model.head_names.index(head)]
    outliers = torch.full((len(first),), oos_index, dtype=torch.long)
    return torch.nn.functional.cross_entropy(logits.float(), outliers)


def with_pseudo_outliers(
    loss: torch.Tensor,
    model: Any,
    pooled: torch.Tensor,
    targets: dict[str, torch.Tensor],
    config: Any,
    state: dict[str, Any],
) -> torch.Tensor:
    """`loss` plus the pseudo out-of-scope tickets' loss of this batch (services/trainer/outliers.py)."""
    extra = pseudo_outlier_loss(
        model,
        pooled,
        targets[config.primary_head],
        head=config.primary_head,
        oos_index=state["pseudo_oos"],
        share=config.oos_pseudo_share,
        generator=state["generator"],
    )
    return loss if extra is None else loss + extra
