"""Public benchmark datasets from `HELPLOOP_DATASETS_DIR` (read in place, never copied into the repo),
converted to the JSONL our trainer and evaluator read."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)
DATASETS = ("banking77", "clinc150")


def _write_jsonl(path: Path, rows: Iterable[dict[str, str]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def _banking77(source: Path, out: Path) -> dict[str, Path]:
    """Banking77: train.csv / test.csv with columns text, category (77 intents)."""
    splits = {}
    for split in ("train", "test"):
        with (source / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
            rows = [{"text": r["text"], "label": r["category"]} for r in csv.DictReader(handle)]
        _write_jsonl(out / f"{split}.jsonl", rows)
        splits[split] = out / f"{split}.jsonl"
    return splits


def _clinc150(source: Path, out: Path) -> dict[str, Path]:
    """CLINC150 data_full.json: 150 intents + `oos`; a second head, `domain`, from domains.json."""
    data = json.loads((source / "data_full.json").read_text())
    domains = json.loads((source / "domains.json").read_text())
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}

    def rows(split: str) -> list[dict[str, str]]:
        pairs = data[split] + data[f"oos_{split}"]
        return [{"text": text, "label": label, "domain": domain_of.get(label, "")} for text, label in pairs]

    names = {"train": "train", "val": "valid", "test": "test"}
    splits = {}
    for split, name in names.items():
        _write_jsonl(out / f"{name}.jsonl", rows(split))
        splits[name] = out / f"{name}.jsonl"
    return splits


def prepare(name: str, *, datasets_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Write `<out_dir>/<name>/{train,valid?,test}.jsonl`; returns the split files."""
    source = Path(datasets_dir) / name
    if not source.is_dir():
        raise FileNotFoundError(f"{source} not found (set HELPLOOP_DATASETS_DIR)")
    builders = {"banking77": _banking77, "clinc150": _clinc150}
    if name not in builders:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    splits = builders[name](source, Path(out_dir) / name)
    log.info("prepared %s: %s", name, {k: str(v) for k, v in splits.items()})
    return splits
