"""The TF-IDF + linear SVM baseline, the trainer's split it trains on, and how reports show the baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.trainer.baseline import run_baselines, side_by_side, training_split
from services.trainer.config import TrainConfig
from services.trainer.data import Example, load_examples
from services.trainer.demo_data import write_dataset
from services.trainer.evaluate import example_languages, head_report
from services.trainer.linear_baseline import LinearBaselineConfig, tfidf_baseline
from services.trainer.report import render_markdown, write_report
from shared.runtime.classifier import HeadSpec

HEADS = {"intent": "label", "sentiment": "sentiment", "priority": "priority"}
ZH_TRAIN = {
    "refund": [
        "我要退款",
        "请把钱退给我",
        "申请退款可以吗",
        "退货退款怎么办理",
        "这个订单我要退钱",
        "钱什么时候退回来",
    ],
    "delivery": [
        "我的包裹还没到",
        "快递到哪里了",
        "物流一直不更新",
        "快递两周了还没送到",
        "包裹显示已签收但我没收到",
        "什么时候发货",
    ],
    "invoice": [
        "我需要开发票",
        "发票抬头写错了",
        "请给我开增值税发票",
        "电子发票在哪里下载",
        "发票还没收到",
        "能补开发票吗",
    ],
}
ZH_TEST = {"refund": ["退款进度怎么样"], "delivery": ["包裹什么时候到"], "invoice": ["帮我开一张发票"]}


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("linear-baseline")
    write_dataset(folder / "train.jsonl", per_intent=20, seed=7)
    write_dataset(folder / "test.jsonl", per_intent=5, seed=99)
    return folder / "train.jsonl", folder / "test.jsonl"


def _load(path: Path) -> list[Example]:
    return load_examples(path, head_columns=HEADS)


def test_tfidf_baseline_trains_and_scores_every_head(demo_files: tuple[Path, Path]) -> None:
    train, test = (_load(p) for p in demo_files)
    result = tfidf_baseline(train, test, languages=example_languages(test))
    assert set(result["heads"]) == set(HEADS)
    assert result["feature_families"] == ["word", "char"] and result["train_examples"] == len(train)
    intent = result["heads"]["intent"]
    assert intent["examples"] == 14 * 5 and intent["accuracy"] >= 0.8 and intent["macro_f1"] >= 0.8
    assert intent["by_language"]["en"]["examples"] >= 60
    assert result["seconds"] < 30
    json.dumps(result)  # goes into report.json as it is


def test_tfidf_baseline_never_learns_from_the_test_set(demo_files: tuple[Path, Path]) -> None:
    """Test labels rotated to another intent: a baseline fitted on test data would score ~1, ours ~0."""
    train, test = (_load(p) for p in demo_files)
    labels = sorted({e.labels["intent"] for e in train})
    rotate = {label: labels[(i + 1) % len(labels)] for i, label in enumerate(labels)}
    rotated = [Example(e.text, {"intent": rotate[e.labels["intent"]]}) for e in test]
    assert tfidf_baseline(train, rotated)["heads"]["intent"]["accuracy"] <= 0.05
    assert tfidf_baseline(rotated, rotated)["heads"]["intent"]["accuracy"] >= 0.9  # the check can fail
    # the vocabulary and IDF come from the training texts alone: unseen test words change nothing
    novel = [Example(e.text + " zyxwvut quixotically", e.labels) for e in rotated]
    assert (
        tfidf_baseline(train, novel)["vocabulary_size"] == tfidf_baseline(train, rotated)["vocabulary_size"]
    )


def test_chinese_is_read_through_character_ngrams() -> None:
    train = [Example(text, {"intent": label}) for label, texts in ZH_TRAIN.items() for text in texts]
    test = [Example(text, {"intent": label}) for label, texts in ZH_TEST.items() for text in texts]
    result = tfidf_baseline(train, test, languages=example_languages(test))
    assert result["feature_families"] == ["char"]  # no space-delimited words in an all-Chinese file
    assert result["heads"]["intent"]["accuracy"] == 1.0
    assert set(result["heads"]["intent"]["by_language"]) == {"zh"}
    words_only = LinearBaselineConfig(char_ngrams=None)
    with pytest.raises(ValueError, match="no word or character n-gram"):
        tfidf_baseline(train, test, config=words_only)


def test_a_head_without_two_training_labels_is_reported_not_raised() -> None:
    train = [
        Example(f"ticket number {i} about shipping", {"intent": "shipping", "mood": "calm"}) for i in range(4)
    ]
    train += [Example(f"ticket number {i} about refunds", {"intent": "refund"}) for i in range(4)]
    test = [Example("where is my shipping", {"intent": "shipping", "mood": "calm"})]
    heads = tfidf_baseline(train, test)["heads"]
    assert heads["intent"]["accuracy"] == 1.0
    assert "single label" in heads["mood"]["unavailable"]


def test_training_split_is_the_fine_tuned_models(demo_files: tuple[Path, Path]) -> None:
    from services.trainer.pipeline import load_splits

    config = TrainConfig(train_file=demo_files[0], head_columns=dict(HEADS), valid_fraction=0.2, seed=5)
    expected, held_out = load_splits(config)
    train, description = training_split(config.to_json())
    assert train == expected and len(held_out) > 0 and "seed 5" in description
    with_valid = TrainConfig(train_file=demo_files[0], valid_file=demo_files[1], head_columns=dict(HEADS))
    assert training_split(with_valid.to_json())[0] == _load(demo_files[0])


def _model_eval(test: list[Example], languages: list[str], wrong: int = 3) -> dict[str, Any]:
    """What `evaluate_bundle` returns for a classifier that gets all but the first `wrong` tickets right."""
    labels = sorted({e.labels["intent"] for e in test})
    logits = 5 * np.eye(len(labels))[[labels.index(e.labels["intent"]) for e in test]]
    logits[:wrong] = np.roll(logits[:wrong], 1, axis=1)
    head = head_report(
        HeadSpec(name="intent", output="logits", labels=labels), logits, test, languages=languages
    )
    latency = {"batch1_p50_ms": 1.0, "batch1_p95_ms": 2.0, "batched_ms_per_ticket": 1.0}
    return {"version": "v-test", "examples": len(test), "heads": {"intent": head}, "latency": latency}


def _report(test_file: str, model_eval: dict[str, Any], baselines: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"version": "v-test"},
        "test_file": test_file,
        "model_eval": model_eval,
        **baselines,
        "versus_baselines": side_by_side(model_eval, baselines["baseline"], baselines["tfidf_baseline"]),
    }


def test_report_shows_both_baselines_and_says_why_one_is_missing(
    demo_files: tuple[Path, Path], tmp_path: Path
) -> None:
    test = [Example(e.text, {"intent": e.labels["intent"]}) for e in _load(demo_files[1])]
    test += [Example(text, {"intent": label}) for label, texts in ZH_TRAIN.items() for text in texts[:2]]
    languages = example_languages(test)
    config = TrainConfig(train_file=demo_files[0]).to_json()
    baselines = run_baselines(
        config=config, test=test, languages=languages, base_dir=None, max_length=64, centroid=True
    )
    assert "no base model" in baselines["baseline"]["unavailable"]
    tfidf = baselines["tfidf_baseline"]["heads"]["intent"]
    assert "seed 13" in baselines["tfidf_baseline"]["train_split"]
    model_eval = _model_eval(test, languages)
    report = _report(str(demo_files[1]), model_eval, baselines)
    row = report["versus_baselines"]["heads"]["intent"]
    delta = row["fine_tuned_minus_tfidf"]["accuracy"]
    assert delta == pytest.approx(model_eval["heads"]["intent"]["accuracy"] - tfidf["accuracy"])
    assert set(row["by_language"]) >= {"en", "zh"} and "unavailable" in row["centroid"]
    markdown = render_markdown({**report, "plots": []})
    assert f"{tfidf['accuracy']:.4f} / {tfidf['macro_f1']:.4f}" in markdown
    assert "| intent | zh |" in markdown and f"{delta:+.4f}" in markdown
    assert "Not available: the manifest names no base model" in markdown


def test_report_files_render_with_a_failing_baseline(tmp_path: Path) -> None:
    test = [Example("where is my parcel", {"intent": "delivery"}), Example("refund me", {"intent": "refund"})]
    model_eval = _model_eval(test * 2, ["en"] * 4, wrong=1)
    failed = {"unavailable": "the model's training file '/gone.csv' is not readable here"}
    report = _report("test.jsonl", model_eval, {"baseline": failed, "tfidf_baseline": failed})
    write_report(report, [], tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.count("Not available: the model's training file") == 2
    assert "| intent | all | 4 | 0.7500 / 0.7333 | n/a | n/a | n/a |" in markdown
    assert (tmp_path / "baselines.png").read_bytes()[:4] == b"\x89PNG"
    stored = json.loads((tmp_path / "report.json").read_text())
    assert "fine_tuned_minus_tfidf" not in stored["versus_baselines"]["heads"]["intent"]
    assert "not readable" in stored["tfidf_baseline"]["unavailable"]
