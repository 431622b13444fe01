"""Real processes for benchmarks: Redis (the machine's or the bundled one), a fresh SQLite database, a
private copy of a model registry, and inference workers started and stopped around a measurement."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import psutil

from helploop.cli.run import stop_process_groups
from shared.db import build_engine, build_session_factory, upgrade_database
from shared.redis_server import redis_reachable, start_embedded_redis
from shared.registry import Registry

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
KEPT_SETTINGS = ("HELPLOOP_CACHE_DIR",)  # passed on to the stack: where converted bases are kept


@dataclass
class BenchEnv:
    root: Path
    redis_url: str
    database_url: str
    registry: Registry
    threads: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @cached_property
    def session_factory(self):  # type: ignore[no-untyped-def]
        return build_session_factory(build_engine(self.database_url))

    def env(self) -> dict[str, str]:
        return {
            # this process's environment less its HELPLOOP_* settings but KEPT_SETTINGS
            **{k: v for k, v in os.environ.items() if not k.startswith("HELPLOOP_") or k in KEPT_SETTINGS},
            "HELPLOOP_ENV": "test",
            "HELPLOOP_DATABASE_URL": self.database_url,
            "HELPLOOP_REDIS_URL": self.redis_url,
            "HELPLOOP_MODEL_REGISTRY_DIR": str(self.registry.root),
            "HELPLOOP_DRAFTS_ENABLED": "false",
            "HELPLOOP_ONNX_INTRA_OP_THREADS": str(self.threads),
            "HELPLOOP_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "HELPLOOP_METRICS_DIR": str(self.root / "metrics"),
            "HELPLOOP_WORKER_METRICS_PORT": "0",
            "HELPLOOP_RATE_LIMIT_WEBHOOKS": "",  # the load generator is one integration at 300/s
        }

    def start(
        self, name: str, argv: list[str], extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log_file = (self.root / f"{name}-{len(self.procs)}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            env={**self.env(), **(extra_env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_worker(self, queues: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.start("worker", [str(BIN / "helploop"), "worker", "--queues", queues], extra_env)

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        stop_process_groups([proc])
        self.procs.remove(proc)

    def stop_workers(self) -> None:
        stop_process_groups(self.procs)
        self.procs.clear()


def rss_mb(proc: subprocess.Popen[bytes]) -> float:
    """Resident memory of a process and its children (a prefork worker), in MB."""
    parent = psutil.Process(proc.pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 1e6


def clone_version(registry: Registry, source: str, name: str) -> str:
    """A version with the same weights under another name (to make every measured task do fresh work)."""
    shutil.copytree(registry.bundle_dir(source), registry.root / name)
    path = registry.root / name / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": name, "parent_version": source}))
    return name


@contextmanager
def bench_env(root: Path, *, source: Registry, redis_url: str, threads: int) -> Iterator[BenchEnv]:
    """A private registry holding `source`'s active bundle, a fresh database, Redis (embedded if needed)."""
    version = source.active_version()
    if version is None:
        raise LookupError(f"no active model in {source.root}: run `make run` once or `helploop train`")
    registry = Registry(root / "models")
    registry.root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source.bundle_dir(version), registry.root / version)
    registry.activate(version)
    database_url = f"sqlite:///{root / 'bench.db'}"
    upgrade_database(database_url)
    embedded = None
    if not redis_reachable(redis_url):
        embedded = start_embedded_redis(root / "redis", persist=False)
        redis_url = embedded.url
    env = BenchEnv(root, redis_url, database_url, registry, threads)
    try:
        yield env
    finally:
        env.stop_workers()
        if embedded is not None:
            embedded.stop()


def wait_until(predicate, *, timeout: float, interval: float = 0.1) -> float:  # type: ignore[no-untyped-def]
    """Seconds until `predicate()` holds; TimeoutError after `timeout`."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"not done after {timeout:.0f}s")
        time.sleep(interval)
    return time.perf_counter() - started
