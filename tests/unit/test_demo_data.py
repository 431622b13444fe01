"""The demo dataset: seeded, varied, balanced, and big enough to train on."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from services.trainer.demo_data import INTENTS, generate_tickets, write_dataset
from shared.runtime.language import detect_language


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


def _chinese_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("\u4e00" <= c <= "\u9fff" for c in letters) / max(1, len(letters))


def test_chinese_tickets_cover_every_intent_in_chinese_and_mix_with_english() -> None:
    both = generate_tickets(per_intent=60, seed=5, languages=("en", "zh"))
    chinese = [t for t in both if detect_language(t.text).language == "zh"]  # as triage tells them
    assert len(chinese) == len(both) // 2 == 60 * len(INTENTS)
    assert Counter(t.label for t in chinese) == dict.fromkeys(INTENTS, 60)
    assert len({t.text for t in both}) == len(both)
    assert {t.sentiment for t in chinese} == {"positive", "neutral", "negative"}
    assert {t.priority for t in chinese} == {"low", "normal", "high"}
    assert not any("{" in t.text or "}" in t.text for t in chinese)  # every slot filled
    # some Chinese-speaking customers have a Latin name in the helpdesk: the name cannot tell the language
    latin = [t for t in chinese if t.customer_name.isascii()]
    assert 0.1 < len(latin) / len(chinese) < 0.3 and all(" " in t.customer_name for t in latin)
    # English stays what it was: the same tickets with or without Chinese beside them
    english = {t.text for t in generate_tickets(per_intent=60, seed=5)}
    assert {t.text for t in both if t not in chinese} == english
    assert generate_tickets(per_intent=5, seed=5, languages=("zh",)) == generate_tickets(
        per_intent=5, seed=5, languages=("zh",)
    )
    with pytest.raises(ValueError, match="languages"):
        generate_tickets(per_intent=5, languages=("fr",))


def test_chinese_demo_data_from_the_command_line(tmp_path: Path) -> None:
    from services.trainer.demo_data import main

    path = tmp_path / "demo.jsonl"
    assert main(["--out", str(path), "--per-intent", "3", "--languages", "en,zh"]) == 0
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 * 3 * len(INTENTS)
    assert sum(_chinese_share(row["text"]) > 0.5 for row in rows) == 3 * len(INTENTS)
