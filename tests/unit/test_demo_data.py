"""The demo dataset: seeded, varied, balanced, and big enough to train on."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from services.trainer.demo_data import INTENTS, generate_tickets, write_dataset


def test_at_least_twelve_intents_with_sixty_examples_each() -> None:
    tickets = generate_tickets(per_intent=60, seed=1)
    counts = Counter(t.label for t in tickets)
    assert len(INTENTS) >= 12
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 60
    assert len({t.text for t in tickets}) == len(tickets)


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert generate_tickets(per_intent=20, seed=3) == generate_tickets(per_intent=20, seed=3)
    assert generate_tickets(per_intent=20, seed=3) != generate_tickets(per_intent=20, seed=4)


def test_short_and_long_tickets_are_both_present() -> None:
    lengths = sorted(len(t.body) for t in generate_tickets(per_intent=60, seed=2))
    assert lengths[len(lengths) // 10] < 120
    assert lengths[-len(lengths) // 10] > 250


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_write_dataset_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"demo{suffix}"
    count = write_dataset(path, per_intent=5, seed=1)
    if suffix == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert count == len(rows) == 5 * len(INTENTS)
    assert {row["label"] for row in rows} == set(INTENTS)
