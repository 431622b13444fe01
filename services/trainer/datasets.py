"""Public benchmark datasets from `HELPLOOP_DATASETS_DIR` (read in place, never copied into the repo),
converted to the JSONL our trainer and evaluator read."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)
DATASETS = ("banking77", "clinc150", "cais_zh", "waimai_zh")
WAIMAI_LABELS = {"1": "positive", "0": "negative"}


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


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _cais_zh(source: Path, out: Path) -> dict[str, Path]:
    """CAIS (Chinese smart-speaker intents, 14 labels): the official train / valid / test CSVs."""
    splits = {}
    for split in ("train", "valid", "test"):
        rows = [{"text": r["text"], "label": r["label"]} for r in _read_csv(source / f"{split}.csv")]
        _write_jsonl(out / f"{split}.jsonl", rows)
        splits[split] = out / f"{split}.jsonl"
    return splits


def hashed_split(text: str) -> str:
    """A stable 80/10/10 split by the text's hash (the same text always lands in the same split)."""
    bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def _waimai_zh(source: Path, out: Path) -> dict[str, Path]:
    """waimai_10k (Chinese food-delivery reviews, positive / negative) as a `sentiment` head; no official
    split ships, so duplicates are dropped and each text goes to train / valid / test by its hash."""
    rows: dict[str, list[dict[str, str]]] = {"train": [], "valid": [], "test": []}
    seen: set[str] = set()
    for row in _read_csv(source / "waimai_10k.csv"):
        text = row["review"].strip()
        if not text or text in seen or row["label"] not in WAIMAI_LABELS:
            continue
        seen.add(text)
        rows[hashed_split(text)].append({"text": text, "sentiment": WAIMAI_LABELS[row["label"]]})
    splits = {}
    for split, split_rows in rows.items():
        _write_jsonl(out / f"{split}.jsonl", split_rows)
        splits[split] = out / f"{split}.jsonl"
    return splits


def prepare(name: str, *, datasets_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Write `<out_dir>/<name>/{train,valid?,test}.jsonl`; returns the split files."""
    source = Path(datasets_dir) / {"waimai_zh": "waimai_10k_zh"}.get(name, name)
    if not source.is_dir():
        raise FileNotFoundError(f"{source} not found (set HELPLOOP_DATASETS_DIR)")
    builders = {
        "banking77": _banking77,
        "clinc150": _clinc150,
        "cais_zh": _cais_zh,
        "waimai_zh": _waimai_zh,
    }
    if name not in builders:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    splits = builders[name](source, Path(out_dir) / name)
    log.info("prepared %s: %s", name, {k: str(v) for k, v in splits.items()})
    return splits
