"""Fit a head's lexical companion — the TF-IDF + linear SVM baseline on the same training split — and keep
it, with the weight its decision values join the logits at, where validation gains (runtime:
shared/runtime/lexical.py).

The weight is chosen on the validation tickets from `WEIGHTS` (0: left out) by the NLL of the summed logits
at their fitted temperature (`choose_weight`), scored by the runtime's own scorer; a weight that gets fewer
validation tickets right than the network alone, or leaves fewer than `errors_left` wrong, is not chosen
(the temperature and the rejection rule are fitted on the same tickets and saturate on a split the sum gets
entirely right). Then the kept companions are fitted again on training + validation (`refit_on_all`).
Banking77 (2 cores, 2026-12-04; the network alone 93.31 % on test): weights 3–10 all scored 93.83–94.09 %.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.data import Example
from services.trainer.linear_baseline import (
    DEFAULT_CONFIG,
    LinearBaselineConfig,
    build_classifier,
    fit_features,
)
from shared.runtime.lexical import LexicalFeatures, LexicalHead, families_of, save_features, save_head

log = logging.getLogger(__name__)
WEIGHTS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
# How much lower the sum's validation NLL (at its fitted temperature) must be than the network's alone for
# the companion to be kept: on Banking77's 10-per-intent subsets the chosen sums were 3.5–15 % lower.
MIN_NLL_GAIN = 0.02
# Validation tickets the sum must still get wrong (at least this many and 1 %): the temperature and the
# rejection rule are fitted on the same split, and where the sum classifies (nearly) all of it right —
# templated demo data — both saturate (temperature at its bound, a threshold at the top of the score) and
# new tickets are rejected; nor can a separable split tell one weight from another.
MIN_ERRORS_LEFT = 3


@dataclass
class LexicalVocabulary:
    """The TF-IDF families fitted once on every training text (shared by the heads, as in the baseline)."""

    fitted: list[tuple[str, Any]]
    matrix: Any  # the training texts' features (scipy CSR), in `train` order
    families: list[dict[str, Any]]
    idf: list[np.ndarray]
    runtime: LexicalFeatures

    @classmethod
    def fit(cls, texts: list[str], config: LinearBaselineConfig = DEFAULT_CONFIG) -> LexicalVocabulary:
        fitted, matrix = fit_features(config, texts)
        families, idf = _families(fitted)
        return cls(fitted, matrix, families, idf, LexicalFeatures(families_of(families, idf)))

    def save(self, bundle_dir: Path) -> None:
        save_features(bundle_dir, self.families, self.idf)


@dataclass
class LexicalFit:
    stem: str
    weight: float
    coef: np.ndarray  # (features, labels), the head's label order
    intercept: np.ndarray

    def spec(self) -> dict[str, Any]:
        """What the head's spec (`HeadSpec`) names it by."""
        return {"lexical": self.stem, "lexical_weight": self.weight}

    def save(self, bundle_dir: Path) -> dict[str, Any]:
        """Write the head's file; returns `spec()`."""
        save_head(bundle_dir, self.stem, self.coef, self.intercept)
        return self.spec()

    def head(self, weight: float | None = None) -> LexicalHead:
        return LexicalHead(self.coef, self.intercept, self.weight if weight is None else weight)


def _families(fitted: list[tuple[str, Any]]) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    families, idf = [], []
    for _, vectorizer in fitted:
        if (
            vectorizer.analyzer not in ("word", "char_wb")
            or not vectorizer.lowercase
            or vectorizer.strip_accents
        ):
            raise ValueError(f"the runtime scores word and char_wb n-grams only, not {vectorizer.analyzer!r}")
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        family = {
            "analyzer": vectorizer.analyzer,
            "ngram_range": list(vectorizer.ngram_range),
            "terms": terms,
        }
        if vectorizer.analyzer == "word":
            family["token_pattern"] = vectorizer.token_pattern
        families.append(family)
        idf.append(np.asarray(vectorizer.idf_, np.float64))
    return families, idf


def _linear(classifier: Any, labels: Sequence[str], features: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) weights and intercepts in `labels`' order; a two-class model's single margin is
    split ±½ between its classes."""
    classes = [str(c) for c in classifier.classes_]
    coef, intercept = np.zeros((features, len(labels)), np.float32), np.zeros(len(labels), np.float32)
    if len(classes) == 2:
        for sign, name in ((-0.5, classes[0]), (0.5, classes[1])):
            coef[:, labels.index(name)] = sign * classifier.coef_[0]
            intercept[labels.index(name)] = sign * classifier.intercept_[0]
        return coef, intercept
    for row, name in enumerate(classes):
        coef[:, labels.index(name)] = classifier.coef_[row]
        intercept[labels.index(name)] = classifier.intercept_[row]
    return coef, intercept


def _fit_linear(
    vocabulary: LexicalVocabulary,
    examples: list[Example],
    head: str,
    labels: list[str],
    config: LinearBaselineConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """The head's linear model over `vocabulary` (fitted on `examples`, in that order), on the examples
    that have this head's label: (features, labels) weights and intercepts."""
    rows = [i for i, e in enumerate(examples) if head in e.labels]
    classifier = build_classifier(config)
    classifier.fit(vocabulary.matrix[rows], [examples[i].labels[head] for i in rows])
    return _linear(classifier, labels, vocabulary.runtime.size)


def refit_on_all(
    fits: dict[str, tuple[LexicalFit, list[str]]],
    examples: list[Example],
    config: LinearBaselineConfig = DEFAULT_CONFIG,
) -> LexicalVocabulary:
    """Once every kept companion's weight is chosen on validation: the vocabulary and each kept head's
    linear model (head → (fit, its labels)) fitted again on `examples` — training and validation tickets —
    each keeping its weight (and its head the temperature and rejection rule fitted before). A team with
    ten tickets per intent cannot spare the one held out for validation: on Banking77 at 10 per intent
    (seed 13) the TF-IDF model alone gains 1.4 pt from it, the sum with the network 0.2–0.8
    (docs/models.md). The fits are changed in place; returns the vocabulary to save with them."""
    vocabulary = LexicalVocabulary.fit([e.text for e in examples], config)
    for head, (fit, labels) in fits.items():
        fit.coef, fit.intercept = _fit_linear(vocabulary, examples, head, labels, config)
    return vocabulary


def errors_left(tickets: int) -> int:
    """How many of `tickets` validation tickets the sum must still get wrong to be kept."""
    return max(MIN_ERRORS_LEFT, math.ceil(0.01 * tickets))


@dataclass(frozen=True)
class WeightChoice:
    """The chosen weight (0: left out) and, per weight tried, validation accuracy and fitted NLL."""

    weight: float
    accuracy: dict[str, float]
    nll: dict[str, float]


def choose_weight(logits: np.ndarray, lexical: np.ndarray, gold: np.ndarray) -> WeightChoice:
    """The weight (0 or one of `WEIGHTS`) whose summed logits, at the temperature fitted to them, give the
    validation tickets the lowest NLL, among the weights that get no fewer of them right than the network
    alone and leave `errors_left` wrong; 0 unless that NLL is `MIN_NLL_GAIN` below the network's own.
    NLL is smooth where counts of right tickets move by whole tickets: with one validation ticket per intent
    (a team with ten) the counts could not tell the weights apart (docs/models.md)."""
    from services.trainer.calibration import fitted_nll

    tried = (0.0, *WEIGHTS)
    sums = {w: logits + w * lexical for w in tried}
    correct = {w: int((sums[w].argmax(axis=1) == gold).sum()) for w in tried}
    nll = {w: fitted_nll(sums[w], gold) for w in tried}
    usable = [
        w for w in WEIGHTS if correct[w] >= correct[0.0] and len(gold) - correct[w] >= errors_left(len(gold))
    ]
    best = min(usable, key=lambda w: (nll[w], w), default=0.0)
    chosen = best if nll[best] <= (1.0 - MIN_NLL_GAIN) * nll[0.0] else 0.0
    return WeightChoice(
        chosen,
        {f"{w:g}": round(n / max(len(gold), 1), 4) for w, n in correct.items()},
        {f"{w:g}": round(v, 4) for w, v in nll.items()},
    )


def fit_lexical(
    vocabulary: LexicalVocabulary,
    train: list[Example],
    valid_texts: list[str],
    *,
    head: str,
    labels: list[str],
    valid_logits: np.ndarray,
    valid_gold: np.ndarray,
    config: LinearBaselineConfig = DEFAULT_CONFIG,
) -> tuple[LexicalFit | None, dict[str, Any]]:
    """The head's linear model on `vocabulary` (fitted on `train`, in that order) over the training tickets
    with this head's label; `valid_texts`, `valid_logits`, `valid_gold`: the validation tickets with this
    head's label, the network's logits for them and their label ids. (The fit where it is kept, else None;
    the report: whether, why, validation accuracy per weight.)"""
    rows = [i for i, e in enumerate(train) if head in e.labels]
    missing = sorted(set(labels) - {train[i].labels[head] for i in rows})
    if missing or len(labels) < 2:
        return None, {"used": False, "reason": f"labels without training tickets: {missing[:5]}"}
    fit = LexicalFit(f"lexical_{head}", 0.0, *_fit_linear(vocabulary, train, head, labels, config))
    scores = fit.head(1.0).scores(vocabulary.runtime.rows(valid_texts))
    choice = choose_weight(valid_logits, scores, valid_gold)
    weight = choice.weight
    report = {"used": weight > 0, "weight": weight, "validation_accuracy_by_weight": choice.accuracy}
    report["validation_nll_by_weight"] = choice.nll
    report |= {"method": config.describe(), "features": vocabulary.runtime.size}
    if weight == 0:
        report["reason"] = (
            f"no weight lowered the validation NLL {MIN_NLL_GAIN:.0%} below the network alone's while "
            f"getting no fewer right and leaving {errors_left(len(valid_gold))}+ wrong for the temperature "
            "and the rejection rule"
        )
        return None, report
    fit.weight = weight
    log.info("head %s: lexical companion kept at weight %g (validation NLL %s)", head, weight, choice.nll)
    return fit, report
