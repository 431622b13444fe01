"""Registry lifecycle (activate, rollback, reject, shadow), pub/sub announcements, background preload in
workers, and the `/v1/models` endpoints with their admin scope."""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from services.gateway.app import create_app
from services.inference.model_holder import ActiveArtifact
from shared.db import upgrade_database
from shared.model_events import ModelEventListener, announce, channel_for
from shared.registry import MANIFEST, Registry, RegistryError
from tests.conftest import ADMIN_API_KEY, API_KEY, settings_overrides

READ = {"Authorization": f"Bearer {API_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_API_KEY}"}


def publish_fake(registry: Registry, version: str, *, parent: str | None = None) -> None:
    with registry.staging() as staging:
        (staging / "model.onnx").write_bytes(version.encode())
        registry.publish(
            staging, version=version, manifest={"created_at": "2026-11-29", "parent_version": parent}
        )


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "models")
    for version in ("v1", "v2", "v3"):
        publish_fake(registry, version)
    return registry


def test_staging_leaves_nothing_behind_unless_published(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    with pytest.raises(RuntimeError), registry.staging() as staging:
        (staging / "model.onnx").write_bytes(b"half written")
        raise RuntimeError("export failed")
    with registry.staging() as staging:
        (staging / "model.onnx").write_bytes(b"never published")
    publish_fake(registry, "v1")
    assert [p.name for p in registry.root.iterdir()] == ["v1"] and registry.versions() == ["v1"]


def test_activation_remembers_history_and_rollback_walks_it_back(registry: Registry) -> None:
    assert registry.activate("v1") is None
    assert registry.activate("v2") == "v1"
    assert registry.activate("v3") == "v2"
    assert registry.active_record()["previous"] == ["v2", "v1"]
    assert [registry.status(v) for v in ("v1", "v2", "v3")] == ["previous", "previous", "active"]
    assert registry.rollback() == "v2"
    assert registry.rollback() == "v1"
    assert registry.active_version() == "v1"
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()


def test_a_rejected_version_needs_force_and_a_shadow_is_cleared_on_activation(registry: Registry) -> None:
    registry.activate("v1")
    registry.reject("v2", ["macro-F1 on golden fell 3.1 pt"])
    assert registry.status("v2") == "rejected"
    with pytest.raises(RegistryError, match="rejected by the quality gate"):
        registry.activate("v2")
    assert registry.active_version() == "v1"
    registry.set_shadow("v3")
    assert (registry.shadow_version(), registry.status("v3")) == ("v3", "shadow")
    with pytest.raises(RegistryError, match="is the active model"):
        registry.set_shadow("v1")
    registry.activate("v3")
    assert registry.shadow_version() is None
    registry.activate("v2", force=True)
    assert registry.active_version() == "v2"


def test_concurrent_activations_lose_no_history(registry: Registry) -> None:
    for i in range(4, 12):
        publish_fake(registry, f"v{i}")
    versions = [f"v{i}" for i in range(1, 12)]
    threads = [threading.Thread(target=registry.activate, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = registry.active_record()
    assert sorted([record["version"], *record["previous"]]) == sorted(versions)


@dataclass
class FakeModel:
    version: str


def test_announced_activation_is_loaded_in_the_background(registry: Registry, redis_url: str) -> None:
    loads: list[tuple[str, str]] = []
    slow = threading.Event()

    def load(_path: Path, version: str) -> FakeModel:
        loads.append((version, threading.current_thread().name))
        if version == "v2":
            slow.wait(5)  # a big bundle: tasks meanwhile keep serving v1
        return FakeModel(version)

    holder: ActiveArtifact[FakeModel] = ActiveArtifact(registry, load)
    registry.activate("v1")
    assert holder.get().version == "v1"

    def on_event(event: dict) -> None:
        holder.preload(event["version"])

    listener = ModelEventListener(lambda: redis.Redis.from_url(redis_url), on_event)
    listener.start()
    try:
        assert listener.subscribed.wait(5)
        client = redis.Redis.from_url(redis_url)
        registry.activate("v2")
        assert announce(client, registry="classifier", event="activated", version="v2")
        deadline = time.monotonic() + 5
        while ("v2", "model-events") not in loads and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder.get().version == "v1"  # still loading: the task goes on with the old model
        slow.set()
        deadline = time.monotonic() + 5
        while holder.get().version != "v2" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder.get().version == "v2"
        assert loads == [("v1", "MainThread"), ("v2", "model-events")]  # never loaded on the task path
    finally:
        listener.stop()
        listener.join(5)


def test_a_missed_announcement_is_caught_by_the_per_task_check(registry: Registry) -> None:
    holder: ActiveArtifact[FakeModel] = ActiveArtifact(registry, lambda _p, v: FakeModel(v))
    registry.activate("v1")
    assert holder.get().version == "v1"
    registry.activate("v2")  # no listener at all
    assert holder.get().version == "v2"


def test_deployments_on_other_databases_of_one_redis_never_hear_each_other(redis_url: str) -> None:
    """Pub/sub channels are server-wide: the channel carries the database number."""
    other_db = 1 if not redis_url.endswith("/1") else 2
    other_url = redis_url.rsplit("/", 1)[0] + f"/{other_db}"
    heard: dict[str, list[dict]] = {"ours": [], "theirs": []}
    listeners = [
        ModelEventListener(lambda u=url: redis.Redis.from_url(u), heard[name].append)
        for name, url in (("ours", redis_url), ("theirs", other_url))
    ]
    for listener in listeners:
        listener.start()
    try:
        assert all(listener.subscribed.wait(5) for listener in listeners)
        announce(redis.Redis.from_url(redis_url), registry="classifier", event="activated", version="v9")
        deadline = time.monotonic() + 5
        while not heard["ours"] and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time enough for a stray delivery to the other database's listener
        assert [e["version"] for e in heard["ours"]] == ["v9"] and heard["theirs"] == []
    finally:
        for listener in listeners:
            listener.stop()
            listener.join(5)


def test_announce_without_redis_does_not_raise() -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    assert announce(dead, registry="classifier", event="activated", version="v1") is False


@pytest.fixture
def client(sqlite_url: str, redis_url: str, registry: Registry) -> FlaskClient:
    upgrade_database(sqlite_url)
    app = create_app(
        settings_overrides(database_url=sqlite_url, redis_url=redis_url, model_registry_dir=registry.root)
    )
    return app.test_client()


def test_models_api_lists_activates_and_rolls_back_with_admin_scope(
    client: FlaskClient, registry: Registry
) -> None:
    registry.activate("v1")
    assert client.post("/v1/models/v2/activate").status_code == 401
    forbidden = client.post("/v1/models/v2/activate", headers=READ)
    assert forbidden.status_code == 403 and forbidden.get_json()["error"] == "forbidden"
    assert client.post("/v1/models/v2/activate", headers=ADMIN).get_json() == {
        "active": "v2",
        "previous": "v1",
    }
    listing = client.get("/v1/models", headers=READ).get_json()
    assert (listing["active"], listing["previous"]) == ("v2", ["v1"])
    assert [m["version"] for m in listing["models"]] == ["v3", "v2", "v1"]
    assert {m["version"]: m["status"] for m in listing["models"]} == {
        "v1": "previous",
        "v2": "active",
        "v3": "candidate",
    }
    assert client.post("/v1/models/rollback", headers=ADMIN).get_json() == {"active": "v1", "previous": "v2"}
    assert client.post("/v1/models/rollback", headers=ADMIN).status_code == 409
    assert client.get("/v1/models/v1", headers=READ).get_json()["status"] == "active"


def test_models_api_errors_are_json(client: FlaskClient, registry: Registry) -> None:
    registry.activate("v1")
    assert client.get("/v1/models/nope", headers=READ).status_code == 404
    assert client.post("/v1/models/nope/activate", headers=ADMIN).status_code == 404
    for name in ("0" * 256, "\u0100" * 128):  # longer than a file name may be (make fuzz found a 500 here)
        for response in (
            client.put(f"/v1/models/shadow/{name}", headers=ADMIN),
            client.post(f"/v1/models/{name}/activate", headers=ADMIN),
            client.get(f"/v1/models/{name}", headers=READ),
        ):
            assert response.status_code == 404 and response.get_json()["error"] == "not_found", response.data
    registry.reject("v3", ["worse"])
    refused = client.post("/v1/models/v3/activate", headers=ADMIN)
    assert refused.status_code == 409 and "worse" in refused.get_json()["message"]
    assert client.post("/v1/models/v3/activate", headers=ADMIN, json={"force": "yes?"}).status_code == 422
    assert client.post("/v1/models/v3/activate", headers=ADMIN, json={"force": True}).status_code == 200
    assert client.put("/v1/models/shadow/v2", headers=ADMIN).get_json()["shadow"] == "v2"
    assert client.delete("/v1/models/shadow", headers=ADMIN).get_json()["shadow"] is None


def test_a_tampered_bundle_cannot_be_activated_over_http(client: FlaskClient, registry: Registry) -> None:
    (registry.bundle_dir("v2") / "model.onnx").write_bytes(b"tampered")
    response = client.post("/v1/models/v2/activate", headers=ADMIN)
    assert response.status_code == 409 and "sha256" in response.get_json()["message"]
    shutil.rmtree(registry.bundle_dir("v3"))
    assert client.post("/v1/models/v3/activate", headers=ADMIN).status_code == 404
    assert not (registry.root / "v3" / MANIFEST).exists()


def test_rollback_switches_back_to_the_kept_model_without_loading(registry: Registry) -> None:
    loads: list[str] = []

    def load(_path: Path, version: str) -> FakeModel:
        loads.append(version)
        return FakeModel(version)

    holder: ActiveArtifact[FakeModel] = ActiveArtifact(registry, load)
    registry.activate("v1")
    first = holder.get()
    registry.activate("v2")
    assert holder.get().version == "v2"
    registry.rollback()
    assert holder.get() is first and loads == ["v1", "v2"]
    holder.preload("v2")  # an announcement of the version kept loaded: no load either
    assert loads == ["v1", "v2"]


def test_generator_versions_have_the_same_lifecycle_over_http(
    sqlite_url: str, redis_url: str, registry: Registry, tmp_path: Path
) -> None:
    generators = Registry(tmp_path / "generators")
    for version in ("g1-w8", "g2-w8"):
        publish_fake(generators, version)
    generators.activate("g1-w8")
    upgrade_database(sqlite_url)
    client = create_app(
        settings_overrides(
            database_url=sqlite_url,
            redis_url=redis_url,
            model_registry_dir=registry.root,
            generator_registry_dir=generators.root,
        )
    ).test_client()
    listing = client.get("/v1/models?kind=generator", headers=READ).get_json()
    assert listing["active"] == "g1-w8" and [m["version"] for m in listing["models"]] == ["g2-w8", "g1-w8"]
    activated = client.post("/v1/models/g2-w8/activate?kind=generator", headers=ADMIN).get_json()
    assert activated == {"active": "g2-w8", "previous": "g1-w8"} and generators.active_version() == "g2-w8"
    assert registry.active_version() is None  # the classifier's registry untouched
    back = client.post("/v1/models/rollback?kind=generator", headers=ADMIN).get_json()
    assert back == {"active": "g1-w8", "previous": "g2-w8"}
    assert client.get("/v1/models?kind=tokenizer", headers=READ).status_code == 422
    shadow = client.put("/v1/models/shadow/g2-w8?kind=generator", headers=ADMIN).get_json()
    assert shadow == {"shadow": "g2-w8", "active": "g1-w8"} and generators.shadow_version() == "g2-w8"
    assert registry.shadow_version() is None
    assert client.get("/v1/drafts/shadow-report", headers=READ).get_json()["version"] == "g2-w8"
    assert client.get("/v1/drafts/shadow-report?version=g9", headers=READ).status_code == 404
    assert client.put("/v1/models/shadow/g1-w8?kind=generator", headers=ADMIN).status_code == 409  # active
    assert client.put("/v1/models/shadow/g2-w8?kind=encoder", headers=ADMIN).status_code == 422
    assert client.delete("/v1/models/shadow?kind=generator", headers=ADMIN).get_json()["shadow"] is None
    assert client.get("/v1/drafts/shadow-report", headers=READ).status_code == 404  # none in shadow


@pytest.mark.parametrize(
    ("promote", "status", "active", "shadow"),
    [("activate", "promoted", "g2", None), ("shadow", "shadow", "g1", "g2"), ("none", "passed", "g1", None)],
)
def test_a_retrained_generator_is_promoted_as_the_run_asked(
    redis_url: str, tmp_path: Path, promote: str, status: str, active: str, shadow: str | None
) -> None:
    from services.trainer.retrain.generator import _promote_generator

    generators = Registry(tmp_path / "generators")
    for version in ("g1", "g2"):
        publish_fake(generators, version)
    generators.activate("g1")
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_for(client))
    assert pubsub.get_message(timeout=2.0) is None  # the subscription confirmed (and skipped)
    assert _promote_generator(generators, "g2", promote, client) == status
    assert generators.active_version() == active and generators.shadow_version() == shadow
    message = pubsub.get_message(timeout=2.0)
    if promote == "none":
        assert message is None
    else:  # the workers hear of it: the drafts worker swaps, the shadow worker drafts with it
        assert json.loads(message["data"])["registry"] == "generator", message
