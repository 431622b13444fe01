"""The lexical companion's runtime (numpy only) against scikit-learn itself: the same TF-IDF features and
the same linear decision values on unseen English, Chinese and odd-whitespace texts; the weight chosen on
validation; a head whose labels lack training tickets gets none."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.trainer.data import Example
from services.trainer.lexical import (
    MIN_GAIN_TICKETS,
    WEIGHTS,
    LexicalFit,
    LexicalVocabulary,
    _linear,
    choose_weight,
    fit_lexical,
)
from services.trainer.linear_baseline import DEFAULT_CONFIG, build_classifier, transform
from shared.runtime.lexical import LexicalFeatures, LexicalHead


def _words(line: str) -> list[str]:
    return line.split()


WORDS = {
    "refund": _words("refund money back return charged twice 退款 退钱 钱 扣款"),
    "delivery": _words("parcel package courier tracking arrived late 包裹 快递 物流 还没到"),
    "account": _words("password login locked account email reset 账号 密码 登录 无法"),
}
EVERY_WORD = [word for words in WORDS.values() for word in words]


def _texts(seed: int, n: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = list(WORDS)[i % 3]
        words = rng.sample(WORDS[label], 3) + rng.sample(EVERY_WORD, 2)
        glue = rng.choice([" ", "  ", "\n", "\t ", "", "，", "! "])
        text = glue.join(words) + rng.choice(["", "?", " 2024", " #A-17", " 😀", " ÉTÉ"])
        out.append(Example(rng.choice([text, text.upper(), f"  {text}  "]), {"intent": label}))
    return out


def _fitted(train: list[Example], labels: list[str]) -> tuple[LexicalVocabulary, Any, LexicalFit]:
    vocabulary = LexicalVocabulary.fit([e.text for e in train])
    model = build_classifier(DEFAULT_CONFIG).fit(vocabulary.matrix, [e.labels["intent"] for e in train])
    return (
        vocabulary,
        model,
        LexicalFit("lexical_intent", 2.5, *_linear(model, labels, vocabulary.runtime.size)),
    )


@pytest.mark.parametrize("classes", [3, 2])
def test_scores_equal_scikit_learns_decision_values(classes: int) -> None:
    train = [e for e in _texts(1, 240) if list(WORDS).index(e.labels["intent"]) < classes]
    unseen = [e.text for e in _texts(2, 90)] + ["", "   ", "x", "完全没见过的词", "never seen words at all"]
    labels = sorted({e.labels["intent"] for e in train})
    vocabulary, model, fit = _fitted(train, labels)
    ours = fit.head(1.0).scores(vocabulary.runtime.rows(unseen))
    theirs = model.decision_function(transform(vocabulary.fitted, unseen))
    if classes == 2:  # one margin, split ±½ between the two classes
        assert np.allclose(ours[:, 1] - ours[:, 0], theirs, atol=1e-4)
    else:
        order = [list(model.classes_).index(label) for label in labels]
        assert np.allclose(ours, theirs[:, order], atol=1e-4)


def test_saved_files_load_to_the_same_scores(tmp_path: Path) -> None:
    vocabulary, _, fit = _fitted(_texts(3, 120), sorted(WORDS))
    vocabulary.save(tmp_path)
    spec = fit.save(tmp_path)
    head = LexicalHead.load(tmp_path, spec["lexical"], spec["lexical_weight"])
    texts = [e.text for e in _texts(4, 30)]
    rows = LexicalFeatures.load(tmp_path).rows(texts)
    assert head.weight == 2.5 and np.array_equal(
        head.scores(rows), fit.head().scores(vocabulary.runtime.rows(texts))
    )


def test_the_weight_is_the_smallest_best_and_only_with_a_real_gain() -> None:
    gold = np.array([0, 1, 2, 0, 1, 2])
    logits = np.eye(3)[[0, 1, 2, 1, 2, 0]] * 1.0  # the network gets 3 of 6
    lexical = np.eye(3)[gold] * 1.0  # the n-grams get all 6
    weight, accuracy = choose_weight(logits, lexical, gold)
    assert (
        weight == min(w for w in WEIGHTS if w > 1.0) and accuracy["0"] == 0.5 and accuracy[f"{weight:g}"] == 1
    )
    nearly = np.eye(3)[[0, 1, 2, 0, 2, 0]] * 1.0  # the network gets 4; the sum can add at most 2
    assert MIN_GAIN_TICKETS == 2 and choose_weight(nearly, lexical, gold)[0] > 0
    assert choose_weight(lexical, logits, gold)[0] == 0.0  # n-grams worse than the network: left out


def test_a_head_with_a_label_no_training_ticket_has_gets_no_companion() -> None:
    train = [e for e in _texts(5, 60) if e.labels["intent"] != "account"]
    vocabulary = LexicalVocabulary.fit([e.text for e in train])
    fit, report = fit_lexical(
        vocabulary,
        train,
        ["x"],
        head="intent",
        labels=sorted(WORDS),
        valid_logits=np.zeros((1, 3)),
        valid_gold=np.zeros(1),
    )
    assert fit is None and not report["used"] and "account" in report["reason"]
