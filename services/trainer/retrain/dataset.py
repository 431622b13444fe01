"""The retraining dataset: the lineage's base data plus agents' resolved tickets — PII-redacted, labels
mapped, deduplicated (the newest label of a text wins) — with two test sets kept out of training: the fixed
golden set, and the newest slice of resolutions (a time split: the candidate is tested on the future)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.trainer.data import Example, load_examples
from shared.db import session_scope
from shared.integrations.models import Resolution
from shared.pii import redact

log = logging.getLogger(__name__)
GOLDEN_HOLDOUT_BUCKETS = 10  # without a golden file: texts whose hash falls in bucket 0 (10 %)
MIN_RECENT = 5  # fewer resolutions than this: none held out as the recent test set
LabelMap = dict[str, dict[str, str | None]]


@dataclass(frozen=True)
class Resolved:
    text: str
    labels: dict[str, str]  # head → label
    resolved_at: datetime


@dataclass
class RetrainData:
    train_file: Path
    golden: list[Example]
    recent: list[Example]
    golden_source: str
    stats: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _bucket(text: str) -> int:
    return int(hashlib.sha256(normalized(text).encode()).hexdigest()[:8], 16) % GOLDEN_HOLDOUT_BUCKETS


def load_label_map(path: Path | None) -> LabelMap:
    """`{head: {old: new}}`; mapping a label to null drops it (a retired class)."""
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path}: expected {{head: {{old label: new label or null}}}}")
    return {
        str(head): {str(k): (None if v is None else str(v)) for k, v in m.items()} for head, m in data.items()
    }


def _mapped(labels: dict[str, str], label_map: LabelMap) -> dict[str, str]:
    out = {}
    for head, label in labels.items():
        new = label_map.get(head, {}).get(label, label)
        if new:
            out[head] = new
    return out


def load_resolutions(
    session_factory: sessionmaker[Session], *, head_columns: dict[str, str], limit: int
) -> list[Resolved]:
    """The newest `limit` resolutions, oldest first; final-label keys may be a head or its column."""
    heads_by_key = {**{column: head for head, column in head_columns.items()}, **{h: h for h in head_columns}}
    query = select(Resolution.text, Resolution.final_labels, Resolution.resolved_at)
    with session_scope(session_factory) as session:
        rows = session.execute(query.order_by(Resolution.resolved_at.desc()).limit(limit)).all()
    resolved = []
    for text, final_labels, resolved_at in reversed(rows):
        labels = {heads_by_key[k]: str(v) for k, v in (final_labels or {}).items() if k in heads_by_key and v}
        if text and labels:
            resolved.append(Resolved(redact(text), labels, resolved_at))
    return resolved


def _split_recent(resolved: list[Resolved], fraction: float) -> tuple[list[Resolved], list[Resolved]]:
    if len(resolved) < MIN_RECENT:
        return resolved, []
    cut = len(resolved) - max(1, math.ceil(len(resolved) * fraction))
    return resolved[:cut], resolved[cut:]


def _golden(
    base: list[Example], golden_file: Path | None, columns: dict[str, Any]
) -> tuple[list[Example], str]:
    if golden_file is not None:
        return load_examples(golden_file, **columns), str(golden_file)
    held = [e for e in base if _bucket(e.text) == 0]
    return held, f"hash hold-out (1/{GOLDEN_HOLDOUT_BUCKETS}) of the base data"


def _write_jsonl(path: Path, examples: list[Example], head_columns: dict[str, str], text_column: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            row = {text_column: example.text, **{head_columns[h]: v for h, v in example.labels.items()}}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def fingerprint(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: (normalized(e.text), sorted(e.labels.items()))):
        digest.update(json.dumps([normalized(example.text), sorted(example.labels.items())]).encode())
    return digest.hexdigest()[:16]


def build_dataset(
    *,
    base_file: Path,
    resolved: list[Resolved],
    head_columns: dict[str, str],
    text_column: str,
    out_dir: Path,
    recent_fraction: float,
    golden_file: Path | None = None,
    label_map: LabelMap | None = None,
) -> RetrainData:
    label_map = label_map or {}
    columns = {"text_column": text_column, "head_columns": head_columns}
    base = [Example(e.text, _mapped(e.labels, label_map)) for e in load_examples(base_file, **columns)]
    golden, golden_source = _golden(base, golden_file, columns)
    golden = [Example(e.text, _mapped(e.labels, label_map)) for e in golden]
    older, newest = _split_recent(resolved, recent_fraction)
    recent = [Example(r.text, _mapped(r.labels, label_map)) for r in newest]
    held_out = {normalized(e.text) for e in (*golden, *recent)}
    by_text: dict[str, Example] = {}
    candidates = [*base, *(Example(r.text, _mapped(r.labels, label_map)) for r in older)]
    for example in candidates:  # later rows win: a resolution relabels a base text
        if example.labels and normalized(example.text) not in held_out:
            by_text[normalized(example.text)] = example
    train = list(by_text.values())
    train_file = out_dir / "train.jsonl"
    _write_jsonl(train_file, train, head_columns, text_column)
    stats = {
        "base_rows": len(base),
        "resolutions": len(resolved),
        "resolutions_trained": len(older),
        "train_rows": len(train),
        "duplicates_or_held_out_dropped": len(candidates) - len(train),
        "golden_rows": len(golden),
        "recent_rows": len(recent),
        "labels": {h: sorted({e.labels[h] for e in train if h in e.labels}) for h in head_columns},
    }
    log.info("retraining dataset: %s", {k: v for k, v in stats.items() if k != "labels"})
    return RetrainData(train_file, golden, recent, golden_source, stats, fingerprint(train))
