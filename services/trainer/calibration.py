"""Post-hoc calibration on validation logits: temperature scaling and the out-of-scope rejection rule."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch

from shared.runtime.scoring import REJECT_METHODS, expected_calibration_error, in_scope_score, softmax

log = logging.getLogger(__name__)


def fit_temperature(logits: np.ndarray, gold: np.ndarray, *, max_iter: int = 200) -> float:
    """The T > 0 minimising validation NLL of softmax(logits / T) (Guo et al., 2017)."""
    tensor = torch.as_tensor(logits, dtype=torch.float64)
    target = torch.as_tensor(gold, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(tensor / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


@dataclass(frozen=True)
class Calibration:
    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float


def _nll(logits: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits, temperature)
    return float(-np.log(np.clip(probabilities[np.arange(len(gold)), gold], 1e-12, None)).mean())


def fitted_nll(logits: np.ndarray, gold: np.ndarray) -> float:
    """Validation NLL of `logits` at the temperature fitted to them (`fit_temperature`)."""
    return _nll(logits, gold, fit_temperature(logits, gold))


def calibrate_head(logits: np.ndarray, gold: np.ndarray) -> Calibration:
    """Fit T on validation; keep T = 1 if scaling would not lower ECE there (it never makes ECE worse)."""
    ece_before = expected_calibration_error(softmax(logits), gold)
    temperature = fit_temperature(logits, gold)
    ece_after = expected_calibration_error(softmax(logits, temperature), gold)
    if ece_after > ece_before:
        log.info(
            "temperature %.3f would raise ECE %.4f -> %.4f; keeping 1.0", temperature, ece_before, ece_after
        )
        temperature, ece_after = 1.0, ece_before
    return Calibration(
        temperature, ece_before, ece_after, _nll(logits, gold, 1.0), _nll(logits, gold, temperature)
    )


@dataclass(frozen=True)
class RejectionRule:
    method: str
    threshold: float
    objective: float  # OOS recall with OOS examples; else the share of wrong predictions rejected
    in_scope_accuracy: float  # rejected in-scope tickets count as errors
    oos_recall: float | None  # None when validation has no out-of-scope examples
    false_rejection_rate: float

    def to_json(self) -> dict[str, float | str | None]:
        return asdict(self)


def _rule(
    method: str,
    threshold: float,
    scores: np.ndarray,
    correct: np.ndarray,
    is_oos: np.ndarray,
    predicted_oos: np.ndarray,
) -> RejectionRule:
    rejected = (scores < threshold) | predicted_oos
    in_scope = ~is_oos
    accuracy = float((correct & ~rejected)[in_scope].mean())
    false_rejection = float(rejected[in_scope].mean())
    if is_oos.any():
        recall = float(rejected[is_oos].mean())
        return RejectionRule(method, threshold, recall, accuracy, recall, false_rejection)
    wrong = in_scope & ~correct
    errors_caught = float(rejected[wrong].mean()) if wrong.any() else 0.0
    return RejectionRule(method, threshold, errors_caught, accuracy, None, false_rejection)


def choose_rejection(
    logits: np.ndarray,
    gold: np.ndarray,
    *,
    temperature: float,
    oos_index: int | None,
    max_false_rejection: float = 0.02,
    max_in_scope_drop: float = 0.01,
    extra_scores: dict[str, np.ndarray] | None = None,
) -> RejectionRule:
    """Pick the method (max-prob, energy, or one of `extra_scores`, e.g. Mahalanobis distance in embedding
    space, precomputed per validation example) and its threshold on validation.

    With out-of-scope examples in validation: the highest OOS recall whose in-scope accuracy (rejections
    count as errors) stays within `max_in_scope_drop` of the accuracy without a threshold. Without them:
    reject the lowest-scoring `max_false_rejection` of tickets, by the method that catches the most
    wrong predictions there.
    """
    predicted = logits.argmax(axis=-1)
    no_oos = np.zeros(len(gold), dtype=bool)
    is_oos = gold == oos_index if oos_index is not None else no_oos
    predicted_oos = predicted == oos_index if oos_index is not None else no_oos
    correct = predicted == gold
    rules = []
    by_method = {m: in_scope_score(logits, method=m, temperature=temperature) for m in REJECT_METHODS}
    by_method.update(extra_scores or {})
    for method, scores in by_method.items():
        if is_oos.any():
            candidates = np.unique(scores)
        else:
            candidates = np.array([np.quantile(scores, max_false_rejection)])
        rules.extend(_rule(method, float(t), scores, correct, is_oos, predicted_oos) for t in candidates)
    if is_oos.any():
        floor = float((correct & ~predicted_oos)[~is_oos].mean()) - max_in_scope_drop
        rules = [rule for rule in rules if rule.in_scope_accuracy >= floor - 1e-12] or rules
    else:  # a quantile at the top of its score (validation all but certain) would reject any new ticket
        rules = [rule for rule in rules if not _saturated(by_method[rule.method], rule.threshold)] or rules
    return max(rules, key=lambda rule: (rule.objective, rule.in_scope_accuracy))


def _saturated(scores: np.ndarray, threshold: float) -> bool:
    """The threshold sits at the highest validation score: every ticket scoring a hair less is rejected
    (max-prob of a perfectly separated validation split with a sharpening temperature: 1.0)."""
    top = float(np.max(scores))
    return threshold >= top - 1e-9 * max(1.0, abs(top))
