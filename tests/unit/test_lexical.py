"""The lexical companion's runtime (numpy only) against scikit-learn itself: the same TF-IDF features and
the same linear decision values on unseen English, Chinese and odd-whitespace texts; the weight chosen on
validation; a head whose labels lack training tickets gets none; a kept companion refitted on training +
validation."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.trainer.data import Example
from services.trainer.lexical import (
    MIN_ERRORS_LEFT,
    MIN_NLL_GAIN,
    WEIGHTS,
    LexicalFit,
    LexicalVocabulary,
    _linear,
    choose_weight,
    errors_left,
    fit_lexical,
    refit_on_all,
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


def test_the_weight_lowers_validation_nll_where_counts_of_right_tickets_tie() -> None:
    """One validation ticket per intent (a team with ten): the n-grams make the network surer where it is
    right without a ticket more right — the counts tie at every weight, the NLL chooses."""
    rng = np.random.default_rng(3)
    gold = np.arange(40) % 8
    logits = rng.normal(0, 1, (40, 8))
    logits[np.arange(30), gold[:30]] += 6.0  # 30 right, 10 clearly wrong
    logits[np.arange(30, 40), (gold[30:] + 1) % 8] += 6.0
    lexical = np.zeros((40, 8))
    lexical[np.arange(30), gold[:30]] = 1.0  # more sure where right, nothing where wrong
    choice = choose_weight(logits, lexical, gold)
    assert len(set(choice.accuracy.values())) == 1, choice  # the same count right at every weight
    assert choice.weight == max(WEIGHTS) and choice.nll["12"] < choice.nll["0"] * (1 - MIN_NLL_GAIN)
    assert set(choice.accuracy) == set(choice.nll) == {"0", *(f"{w:g}" for w in WEIGHTS)}
    assert choose_weight(logits, rng.normal(0, 1, (40, 8)), gold).weight == 0.0  # noise: left out
    misleading = lexical.copy()
    misleading[0] = 0.0
    misleading[0, (gold[0] + 1) % 8] = 3.0  # turns a right ticket wrong from weight 4 on
    choice = choose_weight(logits, misleading, gold)
    assert choice.accuracy["4"] < choice.accuracy["3"] == choice.accuracy["0"]
    assert choice.weight == 3.0 and choice.nll["8"] < choice.nll["3"], choice  # lower NLL, fewer right: no


def test_a_weight_that_leaves_no_validation_ticket_wrong_is_not_chosen() -> None:
    """Templated validation: the sum gets every ticket right, so the temperature and the rejection rule
    fitted on it would saturate; the companion is left out, or kept at a weight that leaves enough wrong."""
    gold = np.arange(300) % 3
    right, wrong = np.eye(3)[gold], np.eye(3)[(gold + 1) % 3]
    logits = np.concatenate([right[:240], wrong[240:]])  # the network gets 240 of 300
    assert errors_left(300) == MIN_ERRORS_LEFT == 3 and errors_left(1000) == 10
    choice = choose_weight(logits, 1.1 * right, gold)  # every weight from 1 on: 300 of 300, never chosen
    assert choice.weight == 0.5 and choice.accuracy["0.5"] == 0.8 and choice.accuracy["1"] == 1.0
    strength = np.concatenate([np.full(240, 1.5), np.linspace(0.6, 1.5, 60)])
    graded = right * strength[:, None]  # weight w fixes the wrong tickets where w * strength > 1
    choice = choose_weight(logits, graded, gold)  # 1 fixes 33 of 60, 2 all of them
    assert (
        choice.weight == 1.0 and choice.accuracy["1"] == round(273 / 300, 4) and choice.accuracy["2"] == 1.0
    )


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


def test_a_kept_companion_is_refitted_on_training_and_validation_with_its_weight() -> None:
    labels = sorted(WORDS)
    train, valid, unseen = _texts(11, 30), _texts(12, 12), _texts(13, 40)
    _, _, fit = _fitted(train, labels)
    before = fit.coef.copy()
    valid[0] = Example("zzwordonlyinvalidation refund", {"intent": "refund"})  # a term training lacks
    vocabulary = refit_on_all({"intent": (fit, labels)}, train + valid)
    assert "zzwordonlyinvalidation" in vocabulary.runtime.families[0].vocabulary
    assert fit.weight == 2.5 and fit.coef.shape == (vocabulary.runtime.size, 3) != before.shape
    every, model, expected = _fitted(train + valid, labels)  # scikit-learn on every labelled ticket
    texts = [e.text for e in unseen]
    decision = model.decision_function(transform(every.fitted, texts))
    served = fit.head(1.0).scores(vocabulary.runtime.rows(texts))
    np.testing.assert_allclose(
        served, decision[:, [list(model.classes_).index(c) for c in labels]], atol=1e-4
    )
    np.testing.assert_allclose(fit.coef, expected.coef, atol=1e-4)
