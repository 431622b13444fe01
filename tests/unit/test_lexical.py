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
    MIN_ERRORS_LEFT,
    MIN_GAIN_TICKETS,
    WEIGHTS,
    LexicalFit,
    LexicalVocabulary,
    _linear,
    choose_weight,
    errors_left,
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
    gold = np.arange(20) % 3
    right, wrong, other = np.eye(3)[gold], np.eye(3)[(gold + 1) % 3], np.eye(3)[(gold + 2) % 3]
    logits = np.concatenate([right[:10], wrong[10:]])  # the network gets 10 of 20
    lexical = 1.1 * np.concatenate([right[:16], other[16:]])  # the n-grams 16; the sum from weight 1 on
    weight, accuracy = choose_weight(logits, lexical, gold)
    assert weight == 1.0 and accuracy["0"] == 0.5 and accuracy["1"] == 0.8 and accuracy["0.5"] == 0.5
    assert set(accuracy) == {"0", *(f"{w:g}" for w in WEIGHTS)}
    assert choose_weight(lexical, logits, gold)[0] == 0.0  # n-grams worse than the network: left out
    nearly = np.concatenate([right[:14], wrong[14:]])  # the network gets 14: the sum adds at most 2
    assert MIN_GAIN_TICKETS == 2 and choose_weight(nearly, lexical, gold)[0] == 1.0
    one_more = np.concatenate([right[:15], wrong[15:]])  # 15: one ticket gained is not enough
    assert choose_weight(one_more, lexical, gold)[0] == 0.0


def test_a_weight_that_leaves_no_validation_ticket_wrong_is_not_chosen() -> None:
    """Templated validation: the sum gets every ticket right, so the temperature and the rejection rule
    fitted on it would saturate; the companion is left out, or kept at a weight that leaves enough wrong."""
    gold = np.arange(300) % 3
    right, wrong = np.eye(3)[gold], np.eye(3)[(gold + 1) % 3]
    logits = np.concatenate([right[:240], wrong[240:]])  # the network gets 240 of 300
    assert errors_left(300) == MIN_ERRORS_LEFT == 3 and errors_left(1000) == 10
    assert choose_weight(logits, 1.1 * right, gold)[0] == 0.0  # every weight from 1 on: 300 of 300
    strength = np.concatenate([np.full(240, 1.5), np.linspace(0.6, 1.5, 60)])
    graded = right * strength[:, None]  # weight w fixes the wrong tickets where w * strength > 1
    weight, accuracy = choose_weight(logits, graded, gold)  # 1 fixes 33 of 60, 2 all of them
    assert weight == 1.0 and accuracy["1"] == round(273 / 300, 4) and accuracy["2"] == 1.0


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
