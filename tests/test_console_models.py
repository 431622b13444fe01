"""The console's Models page beyond activation (tests/test_console.py): a training run's page, and an
evaluation report's plots shown with the model version they evaluated, served from the reports folder only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import API_KEY
from tests.console_support import sign_in
from tests.test_console import _app, _text, client, factory

__all__ = ["client", "factory"]  # the fixtures, shared with tests/test_console.py


def test_a_training_run_is_listed_and_opens_with_its_report(client: FlaskClient, factory: Any) -> None:
    from shared.learning.runs import create_run

    run = create_run(session_factory=factory, trigger="manual", options={"force": True}, stale_after_s=60)
    sign_in(client, API_KEY)
    assert f'/console/models/runs/{run.id}"' in _text(client.get("/console/models"))
    page = client.get(f"/console/models/runs/{run.id}")
    assert page.status_code == 200 and "queued" in _text(page) and "manual" in _text(page)
    assert client.get("/console/models/runs/no-such-run").status_code == 404


def test_an_evaluation_reports_plots_are_shown_with_its_model(
    sqlite_url: str, redis_url: str, tmp_path: Path, factory: Any
) -> None:
    import json

    from PIL import Image

    reports = tmp_path / "reports"
    folder = reports / "banking77" / "e5"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps({"model": {"version": "v2"}}))
    Image.new("RGB", (8, 8), "white").save(folder / "confusion_label.png")
    (tmp_path / "secret.png").write_bytes(b"not for the console")
    client = _app(sqlite_url, redis_url, tmp_path, reports_dir=reports).test_client()
    sign_in(client, API_KEY)
    page = _text(client.get("/console/models?version=v2"))
    assert "Evaluation report: banking77/e5" in page and "confusion_label.png" in page
    assert "Evaluation report" not in _text(client.get("/console/models?version=v1"))
    plot = client.get("/console/reports/banking77/e5/confusion_label.png")
    assert plot.status_code == 200 and plot.mimetype == "image/png" and plot.data[:4] == b"\x89PNG"
    for escape in (
        "/console/reports/../secret.png",
        "/console/reports/banking77/../../secret.png",
        "/console/reports/banking77/e5/report.json",
    ):
        assert client.get(escape).status_code == 404, escape
