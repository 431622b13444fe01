"""The retraining dataset: dedup, label mapping, time split, golden hold-out, redaction, fingerprint."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.trainer.retrain.dataset import (
    Resolved,
    build_dataset,
    fingerprint,
    load_label_map,
    load_resolutions,
    normalized,
)
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.integrations.models import Resolution
from shared.tickets.models import Ticket

HEADS = {"intent": "label", "sentiment": "sentiment"}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "sentiment"])
        writer.writerows(rows)
    return path


def base_rows(n: int = 60) -> list[tuple[str, str, str]]:
    return [(f"where is my order number {i}", "where_is_my_order", "neutral") for i in range(n)] + [
        ("I want my money back", "refund_request", "negative"),
        ("Old taxonomy ticket", "legacy", "neutral"),
    ]


def resolved(n: int) -> list[Resolved]:
    return [
        Resolved(f"please delete my data, case {i}", {"intent": "privacy"}, T0 + timedelta(hours=i))
        for i in range(n)
    ]


def build(tmp_path: Path, resolutions: list[Resolved], **kwargs: object):  # type: ignore[no-untyped-def]
    base = write_csv(tmp_path / "base.csv", base_rows())
    return build_dataset(
        base_file=base,
        resolved=resolutions,
        head_columns=HEADS,
        text_column="text",
        out_dir=tmp_path / "run",
        recent_fraction=0.2,
        **kwargs,  # type: ignore[arg-type]
    )


def train_rows(data) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in data.train_file.read_text().splitlines()]


def test_newest_resolutions_are_the_recent_test_slice_and_never_trained(tmp_path: Path) -> None:
    data = build(tmp_path, resolved(10))
    assert [e.text for e in data.recent] == ["please delete my data, case 8", "please delete my data, case 9"]
    trained = {row["text"] for row in train_rows(data)}
    assert "please delete my data, case 7" in trained and not trained & {e.text for e in data.recent}
    assert data.stats["resolutions_trained"] == 8 and data.stats["recent_rows"] == 2


def test_golden_hold_out_is_stable_and_excluded_from_training(tmp_path: Path) -> None:
    first, second = build(tmp_path, []), build(tmp_path, [])
    assert first.golden and [e.text for e in first.golden] == [e.text for e in second.golden]
    trained = {normalized(row["text"]) for row in train_rows(first)}
    assert not trained & {normalized(e.text) for e in first.golden}
    assert first.golden_source.startswith("hash hold-out")


def test_a_golden_file_is_used_as_given_and_its_texts_are_not_trained(tmp_path: Path) -> None:
    golden = write_csv(
        tmp_path / "golden.csv", [("WHERE is my order   number 3", "where_is_my_order", "neutral")]
    )
    data = build(tmp_path, [], golden_file=golden)
    assert [e.text for e in data.golden] == ["WHERE is my order   number 3"]
    assert "where is my order number 3" not in {row["text"] for row in train_rows(data)}


def test_a_resolution_relabels_a_base_text_and_duplicates_are_dropped(tmp_path: Path) -> None:
    relabel = Resolved("I want my money back ", {"intent": "return_item"}, T0)
    data = build(tmp_path, [relabel, relabel])
    rows = [r for r in train_rows(data) if normalized(r["text"]) == "i want my money back"]
    assert rows == [{"text": "I want my money back ", "label": "return_item"}]


def test_label_map_renames_and_retires_labels(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yml"
    mapping.write_text("intent:\n  where_is_my_order: order_status\n  legacy: null\n")
    data = build(tmp_path, [], label_map=load_label_map(mapping))
    labels = {row.get("label") for row in train_rows(data)}
    assert "order_status" in labels and "where_is_my_order" not in labels and "legacy" not in labels
    assert "Old taxonomy ticket" in {row["text"] for row in train_rows(data)}  # kept for its other head
    bad = tmp_path / "bad.yml"
    bad.write_text("- not a mapping\n")
    with pytest.raises(ValueError, match="expected"):
        load_label_map(bad)


def test_fingerprint_ignores_order_and_sees_label_changes(tmp_path: Path) -> None:
    data = build(tmp_path, resolved(10))
    from services.trainer.data import Example

    rows = [Example(r["text"], {"intent": r["label"]}) for r in train_rows(data) if "label" in r]
    assert fingerprint(rows) == fingerprint(list(reversed(rows)))
    changed = [Example(rows[0].text, {"intent": "other"}), *rows[1:]]
    assert fingerprint(changed) != fingerprint(rows)


def test_resolutions_are_read_oldest_first_mapped_to_heads_and_redacted(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    with session_scope(factory) as session:
        for i, labels in enumerate(({"label": "refund_request"}, {"intent": "privacy", "mood": "x"}, {})):
            ticket = Ticket(
                source="api",
                event_id=f"e{i}",
                external_id=f"x{i}",
                subject="",
                body="b",
                channel="email",
                created_at=T0,
            )
            session.add(ticket)
            session.flush()
            text = f"write to jane{i}@example.com please"
            session.add(
                Resolution(
                    ticket_id=ticket.id,
                    source="api",
                    final_labels=labels,
                    text=text,
                    resolved_at=T0 - timedelta(days=i),
                )
            )
    rows = load_resolutions(factory, head_columns=HEADS, limit=10)
    assert [r.labels for r in rows] == [{"intent": "privacy"}, {"intent": "refund_request"}]
    assert all("@" not in r.text and "[email]" in r.text for r in rows)
    assert [r.labels for r in load_resolutions(factory, head_columns=HEADS, limit=1)] == [
        {"intent": "refund_request"}
    ]
