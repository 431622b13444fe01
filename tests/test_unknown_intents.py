"""Requests without an intent (`helploop benchmark NAME --hold-out-intents N`): the held-out intents are
chosen reproducibly and leave training entirely, every score is oriented "higher = in scope", thresholds
come from validation, and on the session's real model off-topic requests are told from shop tickets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.trainer.data import Example
from services.trainer.demo_data import generate_tickets, write_dataset
from services.trainer.unknown_intents import (
    assess,
    auroc,
    choose_held_out,
    markdown,
    nearest_cosine,
    operating_points,
    plot,
    write_without,
)
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier

OFF_TOPIC = [
    "what is the capital of peru",
    "play some jazz music in the living room",
    "how many calories are in a banana",
    "set an alarm for six tomorrow morning",
    "who won the world cup in 1998",
    "translate good night into french",
    "what is the weather like on mars",
    "tell me a joke about penguins",
    "how do i change a flat tyre on a bicycle",
    "recommend a good science fiction novel",
    "what time is it in tokyo right now",
    "how tall is mount everest",
]


def _jsonl(path: Path, labels: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"text": f"ticket {i}", "label": lb}) + "\n" for i, lb in enumerate(labels))
    )
    return path


def test_held_out_intents_are_seeded_and_leave_every_split(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "train.jsonl", [f"intent_{i % 9}" for i in range(90)])
    held = choose_held_out(source, label_column="label", count=3, seed=7)
    assert held == choose_held_out(source, label_column="label", count=3, seed=7)
    assert held != choose_held_out(source, label_column="label", count=3, seed=8)
    kept = write_without(source, tmp_path / "known.jsonl", held_out=held, label_column="label")
    labels = [json.loads(line)["label"] for line in kept.read_text().splitlines()]
    assert len(labels) == 60 and not set(labels) & set(held)
    with pytest.raises(ValueError, match="1 to 7 of 9 intents"):
        choose_held_out(source, label_column="label", count=8, seed=7)


def test_the_command_refuses_a_count_that_is_not_a_number_of_intents(capsys: pytest.CaptureFixture) -> None:
    from helploop.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["benchmark", "banking77", "--hold-out-intents", "0"])
    assert exited.value.code == 2 and "1 or more" in capsys.readouterr().err


def test_scores_are_in_scope_high_and_thresholds_come_from_validation() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 4
    reference = np.concatenate([c + rng.normal(size=(50, 16)) for c in centres])
    known = np.concatenate([c + rng.normal(size=(20, 16)) for c in centres])
    unknown = rng.normal(size=(40, 16)) * 4 + 12  # far from every class
    near, far = nearest_cosine(reference, known), nearest_cosine(reference, unknown)
    assert near.mean() > far.mean() and auroc(near, far) > 0.95
    assert auroc(far, near) < 0.05 and abs(auroc(near, near) - 0.5) < 1e-9
    valid = np.linspace(0.0, 1.0, 101)  # thresholds at its 2/5/10 % quantiles
    points = operating_points(
        valid,
        np.array([0.03, 0.5, 0.9, 0.95]),
        np.array([0.01, 0.04, 0.2]),
        np.array([True, True, False, True]),
    )
    assert [p["threshold"] for p in points] == [0.02, 0.05, 0.1]
    assert [p["unknown_recall"] for p in points] == [round(1 / 3, 4), round(2 / 3, 4), round(2 / 3, 4)]
    assert points[2]["false_rejection"] == 0.25 and points[2]["known_accuracy"] == 0.5


def test_off_topic_requests_stand_apart_on_the_real_model(
    trained_registry: Registry, train_config: Any, tmp_path: Path
) -> None:
    version = trained_registry.active_version()
    classifier = OnnxClassifier(trained_registry.bundle_dir(version), version=version)
    known = [Example(t.text, {"intent": t.label}) for t in generate_tickets(per_intent=3, seed=99)]
    unknown = [Example(text, {"intent": "chit_chat"}) for text in OFF_TOPIC]
    reference = tmp_path / "reference.csv"  # the known intents' tickets the nearest-ticket scores compare to
    write_dataset(reference, per_intent=15, seed=7)
    config = replace(train_config, train_file=reference)
    result = assess(classifier, config, held_out=["chit_chat"], test=known + unknown)
    assert result["counts"]["unknown_test"] == len(OFF_TOPIC) and result["counts"]["known_test"] == len(known)
    assert result["known_accuracy_without_rejection"] > 0.7
    for method in ("mahalanobis", "nearest_ticket_cosine"):
        assert result["methods"][method]["auroc"] > 0.8, (method, result["methods"][method])
        at_ten = result["methods"][method]["points"][-1]
        assert at_ten["unknown_recall"] >= 0.5 and at_ten["false_rejection"] < 0.25, at_ten
    assert "chit_chat" in markdown({"dataset": "demo", "seed": 7, **result})
    plot({"dataset": "demo", **result}, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000
