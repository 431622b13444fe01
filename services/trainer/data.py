"""Load labelled text from CSV or JSONL, and split it stratified by label."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.tickets.normalise import model_text


class DataError(Exception):
    """The training file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Example:
    """One text with a label per head; a head without a label for this text is simply absent."""

    text: str
    labels: dict[str, str]

    @property
    def label(self) -> str | None:
        """The first head's label (stratification key)."""
        return next(iter(self.labels.values()), None)


def _rows(path: Path) -> list[dict[str, object]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        return rows
    raise DataError(f"{path}: unsupported format {suffix!r} (use .csv or .jsonl)")


def load_examples(
    path: Path, *, text_column: str = "text", head_columns: dict[str, str] | None = None
) -> list[Example]:
    """Rows with text and at least one label; `head_columns` maps head name → column ({"intent": "label"})."""
    head_columns = head_columns or {"intent": "label"}
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = _rows(path)
    if missing := [c for c in (text_column, *head_columns.values()) if not any(c in row for row in rows)]:
        raise DataError(f"{path}: no row has column(s) {missing}")
    examples = []
    for row in rows:
        text = model_text(str(row.get(text_column) or "").strip())  # as tickets are read at inference
        labels = {
            head: str(row[column]).strip()
            for head, column in head_columns.items()
            if row.get(column) not in (None, "") and str(row[column]).strip()
        }
        if text and labels:
            examples.append(Example(text, labels))
    if not examples:
        raise DataError(f"{path}: no labelled rows")
    return examples


def stratified_split(
    examples: list[Example], *, valid_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Hold out `valid_fraction` of each label (at least one where a label has two or more rows)."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label or ""].append(example)
    rng = random.Random(seed)
    train, valid = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        n_valid = round(len(group) * valid_fraction) if len(group) > 1 else 0
        n_valid = max(n_valid, 1) if len(group) > 1 else 0
        valid.extend(group[:n_valid])
        train.extend(group[n_valid:])
    rng.shuffle(train)
    return train, valid


def length_order(tokenizer: Any, texts: list[str], *, max_length: int) -> list[int]:
    """Indices of `texts` by token count (truncated at `max_length`): batches cut from this order hold texts
    of similar length, so padding each to its longest costs little (in input order, a batch of short
    tickets padded to one long e-mail cost twice the compute on demo data)."""
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    return sorted(range(len(texts)), key=lengths.__getitem__)
