"""Training data loading and the stratified split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from services.trainer.data import DataError, Example, load_examples, stratified_split


def test_jsonl_and_custom_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps({"q": f"text {i}", "y": "a" if i % 2 else "b"}) for i in range(6)))
    examples = load_examples(path, text_column="q", head_columns={"intent": "y"})
    assert len(examples) == 6 and {e.label for e in examples} == {"a", "b"}
    assert examples[0].labels == {"intent": "b"}


def test_multi_head_rows_may_lack_some_labels(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "text,intent,sentiment\nwhere is it,wismo,neutral\nawful service,complaint,\nno labels,,\n"
    )
    examples = load_examples(path, head_columns={"intent": "intent", "sentiment": "sentiment"})
    assert [e.labels for e in examples] == [
        {"intent": "wismo", "sentiment": "neutral"},
        {"intent": "complaint"},
    ]


def test_missing_column_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,intent\nhello,greet\n")
    with pytest.raises(DataError, match="no row has column"):
        load_examples(path)


def test_bad_jsonl_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{oops\n')
    with pytest.raises(DataError, match=":2:"):
        load_examples(path)


def test_unsupported_format(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"x")
    with pytest.raises(DataError, match="unsupported"):
        load_examples(path)


def test_stratified_split_keeps_every_label_on_both_sides() -> None:
    examples = [
        Example(f"t{i}", {"intent": label}) for label, n in (("a", 50), ("b", 10), ("c", 3)) for i in range(n)
    ]
    train, valid = stratified_split(examples, valid_fraction=0.2, seed=1)
    assert Counter(e.label for e in valid) == {"a": 10, "b": 2, "c": 1}
    assert len(train) + len(valid) == len(examples)
    assert not {e.text + e.label for e in train} & {e.text + e.label for e in valid}  # type: ignore[operator]
    assert stratified_split(examples, valid_fraction=0.2, seed=1) == (train, valid)
