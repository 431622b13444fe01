"""`/v1/training/runs`: admin-only start, one open run at a time, the task queued by name on `training`."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from flask.testing import FlaskClient

from services.gateway.app import create_app
from shared.celery_app import QUEUE_TRAINING, TASK_RETRAIN
from shared.db import upgrade_database
from tests.conftest import ADMIN_API_KEY, API_KEY, settings_overrides

READ = {"Authorization": f"Bearer {API_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_API_KEY}"}


def client_for(sqlite_url: str, redis_url: str, tmp_path: Path) -> FlaskClient:
    upgrade_database(sqlite_url)
    overrides = settings_overrides(database_url=sqlite_url, redis_url=redis_url, model_registry_dir=tmp_path)
    return create_app(overrides).test_client()


def test_start_list_and_show_training_runs(sqlite_url: str, redis_url: str, tmp_path: Path) -> None:
    client = client_for(sqlite_url, redis_url, tmp_path)
    assert client.post("/v1/training/runs", headers=READ).status_code == 403
    assert client.post("/v1/training/runs", headers=ADMIN, json={"promote": "later"}).status_code == 422
    assert client.post("/v1/training/runs", headers=ADMIN, json={"epochs": 3}).status_code == 422
    started = client.post("/v1/training/runs", headers=ADMIN, json={"promote": "shadow"})
    assert started.status_code == 202
    run = started.get_json()
    assert (run["status"], run["trigger"], run["options"]) == (
        "queued",
        "manual",
        {"force": False, "promote": "shadow"},
    )
    assert started.headers["Location"] == f"/v1/training/runs/{run['id']}"
    messages = redis.Redis.from_url(redis_url).lrange(QUEUE_TRAINING, 0, -1)
    assert len(messages) == 1
    message = json.loads(messages[0])
    assert message["headers"]["task"] == TASK_RETRAIN and message["headers"]["argsrepr"] == repr([run["id"]])
    busy = client.post("/v1/training/runs", headers=ADMIN)
    assert busy.status_code == 409 and busy.get_json()["fields"][0]["message"] == run["id"]
    listing = client.get("/v1/training/runs", headers=READ).get_json()["runs"]
    assert [r["id"] for r in listing] == [run["id"]] and "report" not in listing[0]
    assert client.get(f"/v1/training/runs/{run['id']}", headers=READ).get_json()["status"] == "queued"
    assert client.get("/v1/training/runs/nope", headers=READ).status_code == 404


def test_an_unreachable_queue_fails_the_run_with_503(sqlite_url: str, tmp_path: Path) -> None:
    client = client_for(sqlite_url, "redis://127.0.0.1:1/0", tmp_path)
    response = client.post("/v1/training/runs", headers=ADMIN)
    assert response.status_code == 503
    runs = client.get("/v1/training/runs", headers=READ).get_json()["runs"]
    assert runs[0]["status"] == "failed" and runs[0]["error"].startswith("could not enqueue")
    assert client.post("/v1/training/runs", headers=ADMIN).status_code == 503  # not blocked by the failed one
