"""The nightly schedule, the `models` CLI and the benchmark report, without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from celery.schedules import crontab

from helploop.bench.report import write_results
from helploop.cli.main import main
from services.trainer.worker import beat_schedule, cron_schedule
from shared.registry import Registry
from shared.settings import load_settings
from tests.test_model_lifecycle import publish_fake


def test_nightly_schedule_follows_the_cron_setting() -> None:
    entry = beat_schedule(load_settings(retrain_cron="30 3 * * 1-5"))["nightly-retrain"]
    assert entry["task"] == "helploop.training.retrain" and entry["options"] == {"queue": "training"}
    assert entry["schedule"] == crontab(minute="30", hour="3", day_of_week="1-5")
    assert cron_schedule("0 2 * * *") == crontab(minute="0", hour="2")
    with pytest.raises(ValueError, match="five fields"):
        load_settings(retrain_cron="nightly")


def test_models_cli_lists_activates_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = Registry(tmp_path)
    for version in ("v1", "v2"):
        publish_fake(registry, version)
    monkeypatch.setenv("HELPLOOP_MODEL_REGISTRY_DIR", str(tmp_path))
    monkeypatch.setenv("HELPLOOP_REDIS_URL", "redis://127.0.0.1:1/0")  # announcements fail softly
    from shared.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["models", "activate", "v1"]) == 0
        assert main(["models", "activate", "v2"]) == 0
        assert main(["models", "rollback"]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"active": "v1", "previous": "v2"}
        assert main(["models", "list"]) == 0
        listing = capsys.readouterr().out.splitlines()
        assert listing[0].split()[:2] == ["candidate", "v2"] and listing[1].split()[:2] == ["active", "v1"]
        assert main(["models", "rollback"]) == 1  # nothing left to roll back to: a one-line error
        assert "nothing to roll back" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_benchmark_results_are_json_and_a_markdown_table(tmp_path: Path) -> None:
    def path(chunk_size: int, tasks: int, tickets: int, seconds: float, rate: float) -> dict:
        return {"chunk_size": chunk_size, "tasks": tasks, "tickets": tickets, "seconds": seconds} | {
            "tickets_per_s": rate
        }

    variant = {"version": "v1", "ratio": 2.1, "batched": path(256, 4, 1000, 10.0, 100.0)}
    variant["one_task_per_ticket"] = path(1, 100, 100, 2.1, 47.6)
    int8 = {**variant, "version": "v1-int8", "ratio": 3.4}
    result = {"threads": 2, "worker_rss_mb": 500.0, "variants": {"active model": variant, "int8 child": int8}}
    json_path, md_path = write_results(tmp_path, {"reclassify": result})
    written = json.loads(json_path.read_text())["sections"]["reclassify"]
    assert written["variants"]["int8 child"]["ratio"] == 3.4
    text = md_path.read_text()
    assert "| active model (`v1`) | batched chunks of 256 | 4 | 1000 | 10.0 | 100.0 | **2.1×** |" in text
    assert "| int8 child (`v1-int8`) | one task per ticket | 100 | 100 | 2.1 | 47.6 |  |" in text
    assert "**3.4×**" in text
    assert (tmp_path / "latest.md").read_text() == text
