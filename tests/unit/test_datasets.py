"""Public dataset conversion, on small files in the published formats."""

from __future__ import annotations

import json
from pathlib import Path

from services.trainer.data import load_examples
from services.trainer.datasets import prepare


def test_banking77(tmp_path: Path) -> None:
    source = tmp_path / "src" / "banking77"
    source.mkdir(parents=True)
    for split in ("train", "test"):
        (source / f"{split}.csv").write_text(
            'text,category\n"card, not arrived?",card_arrival\nhi,greeting\n'
        )
    splits = prepare("banking77", datasets_dir=tmp_path / "src", out_dir=tmp_path / "out")
    assert set(splits) == {"train", "test"}
    assert [e.labels for e in load_examples(splits["train"])] == [
        {"intent": "card_arrival"},
        {"intent": "greeting"},
    ]


def test_clinc150_has_oos_and_a_domain_head(tmp_path: Path) -> None:
    source = tmp_path / "src" / "clinc150"
    source.mkdir(parents=True)
    data = {f"{p}{s}": [] for p in ("", "oos_") for s in ("train", "val", "test")}
    for split in ("train", "val", "test"):
        data[split] = [["what is my balance", "balance"]]
        data[f"oos_{split}"] = [["tell me a joke about fish", "oos"]]
    (source / "data_full.json").write_text(json.dumps(data))
    (source / "domains.json").write_text(json.dumps({"banking": ["balance"]}))
    splits = prepare("clinc150", datasets_dir=tmp_path / "src", out_dir=tmp_path / "out")
    assert set(splits) == {"train", "valid", "test"}
    examples = load_examples(splits["valid"], head_columns={"intent": "label", "domain": "domain"})
    assert [e.labels for e in examples] == [{"intent": "balance", "domain": "banking"}, {"intent": "oos"}]
