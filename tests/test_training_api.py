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


def test_an_unreachable_queue_still_accepts_the_run_and_the_relay_queues_it_later(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    down = client_for(sqlite_url, "redis://127.0.0.1:1/0", tmp_path)
    response = down.post("/v1/training/runs", headers=ADMIN)
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    run_id = response.get_json()["id"]
    assert down.post("/v1/training/runs", headers=ADMIN).status_code == 409  # it is open, not lost
    up = create_app(
        settings_overrides(database_url=sqlite_url, redis_url=redis_url, model_registry_dir=tmp_path)
    )
    assert up.extensions["helploop"].relay.run_once() is False  # what the relay thread does each tick
    messages = redis.Redis.from_url(redis_url).lrange(QUEUE_TRAINING, 0, -1)
    assert [json.loads(m)["headers"]["argsrepr"] for m in messages] == [repr([run_id])]


def test_reclassify_jobs_shadow_report_and_accuracy_endpoints(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from shared.db import build_engine, build_session_factory
    from shared.registry import Registry
    from tests.learning_data import store_tickets
    from tests.test_model_lifecycle import publish_fake

    registry = Registry(tmp_path)
    publish_fake(registry, "v1")
    client = client_for(sqlite_url, redis_url, tmp_path)
    since = "2026-11-01T00:00:00+00:00"
    assert client.post("/v1/reclassify", headers=READ, json={"since": since}).status_code == 403
    assert client.post("/v1/reclassify", headers=ADMIN, json={"since": since}).status_code == 409  # no model
    registry.activate("v1")
    assert client.post("/v1/reclassify", headers=ADMIN, json={"since": since}).status_code == 422  # empty
    naive = client.post("/v1/reclassify", headers=ADMIN, json={"since": "2026-11-01T00:00:00"})
    assert naive.status_code == 422 and naive.get_json()["fields"][0]["field"] == "since"
    backwards = {"since": since, "until": "2026-10-01T00:00:00+00:00"}
    assert client.post("/v1/reclassify", headers=ADMIN, json=backwards).status_code == 422
    unknown = client.post("/v1/reclassify", headers=ADMIN, json={"since": since, "model_version": "v9"})
    assert unknown.status_code == 404
    factory = build_session_factory(build_engine(sqlite_url))
    store_tickets(factory, [f"ticket {i}" for i in range(25)], received_at=datetime(2026, 11, 2, tzinfo=UTC))
    created = client.post("/v1/reclassify", headers=ADMIN, json={"since": since, "chunk_size": 10})
    assert created.status_code == 202, created.get_json()
    job = created.get_json()
    assert (job["total_items"], job["total_chunks"], job["model_version"], job["progress"]) == (
        25,
        3,
        "v1",
        0.0,
    )
    assert redis.Redis.from_url(redis_url).llen("batch") == 3  # one message per chunk, as a group
    assert client.get(f"/v1/jobs/{job['id']}", headers=READ).get_json()["done_chunks"] == 0
    resumed = client.post(f"/v1/jobs/{job['id']}/resume", headers=ADMIN)
    assert resumed.status_code == 202 and resumed.get_json()["requeued_chunks"] == 3
    assert client.get("/v1/jobs/nope", headers=READ).status_code == 404
    report = client.get("/v1/models/v1/shadow-report", headers=READ).get_json()
    assert (report["predictions"], report["agreement"], report["status"]) == (0, None, "active")
    accuracy = client.get("/v1/accuracy?window_days=3", headers=READ).get_json()
    assert (accuracy["version"], accuracy["resolved"], accuracy["accuracy"]) == ("v1", 0, None)
    assert client.get("/v1/accuracy?window_days=0", headers=READ).status_code == 422
    assert client.get("/v1/accuracy?window_days=x", headers=READ).status_code == 422
