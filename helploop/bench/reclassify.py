"""Reclassification throughput on a real worker: the same backlog as batched chunks (one task per 256
tickets, length-sorted batches of 32 through onnxruntime) and as one task per ticket (chunk size 1: the
same code path, no batching). Both on one worker process, one after the other, in the same run: for the
active model and for its int8 child (what `helploop train` serves on a CPU by default)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from helploop.bench.harness import BenchEnv, clone_version, rss_mb, wait_until
from shared.celery_app import create_celery
from shared.db import session_scope
from shared.db.base import new_id
from shared.learning import jobs
from shared.learning.dispatch import dispatch_chunks
from shared.settings import load_settings
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)

INT8_CHILD = "its int8 child (served by default on a CPU)"


def store_backlog(
    session_factory: Any, texts: list[str], *, received_at: datetime, status: str = "triaged"
) -> list[str]:
    """Tickets stored in bulk (no queue; by default as already triaged: a backlog to reclassify); ids."""
    rows = [
        {
            "id": new_id(),
            "source": "backlog",
            "event_id": new_id(),
            "external_id": f"B-{i}",
            "subject": "",
            "body": text,
            "channel": "email",
            "created_at": received_at,
            "received_at": received_at + timedelta(microseconds=i),
            "status": status,
        }
        for i, text in enumerate(texts)
    ]
    with session_scope(session_factory) as session:
        for start in range(0, len(rows), 2000):
            session.execute(insert(Ticket), rows[start : start + 2000])
    return [row["id"] for row in rows]


def _run_job(
    env: BenchEnv, *, since: datetime, until: datetime, version: str, chunk_size: int, timeout: float
) -> dict[str, Any]:
    factory = env.session_factory
    app = create_celery(load_settings(redis_url=env.redis_url, env="test"), name="helploop-bench")
    job = jobs.create_reclassify_job(
        session_factory=factory, since=since, until=until, model_version=version, chunk_size=chunk_size
    )
    started = time.perf_counter()
    dispatch_chunks(app, job.id, list(range(job.total_chunks)))

    def finished() -> bool:
        view = jobs.get_job(session_factory=factory, job_id=job.id)
        return view is not None and view.status != "running"

    wait_until(finished, timeout=timeout, interval=0.05)
    seconds = time.perf_counter() - started
    view = jobs.get_job(session_factory=factory, job_id=job.id)
    assert view is not None and view.status == "done", view
    return {
        "chunk_size": chunk_size,
        "tasks": job.total_chunks,
        "tickets": view.processed_items,
        "seconds": round(seconds, 2),
        "tickets_per_s": round(view.processed_items / seconds, 1),
    }


def _variant(env: BenchEnv, version: str, *, t0: datetime, timeout: float) -> dict[str, Any]:
    """`version` on the backlog one task per ticket (the second day's tickets), then in batched chunks (the
    first day's), each under a fresh name so that every task does its work anew."""
    single_version = clone_version(env.registry, version, f"{version}-bench-single")
    batched_version = clone_version(env.registry, version, f"{version}-bench-batched")
    day = timedelta(days=1)
    single = _run_job(
        env, since=t0 + day, until=t0 + 2 * day, version=single_version, chunk_size=1, timeout=timeout
    )
    batched = _run_job(
        env, since=t0, until=t0 + day, version=batched_version, chunk_size=256, timeout=timeout
    )
    return {
        "version": version,
        "batched": batched,
        "one_task_per_ticket": single,
        "ratio": round(batched["tickets_per_s"] / single["tickets_per_s"], 2),
    }


def bench_reclassify(
    env: BenchEnv,
    texts: list[str],
    *,
    single_tickets: int,
    variants: dict[str, str] | None = None,
    timeout: float = 900,
) -> dict[str, Any]:
    """`texts` as the batched backlog; the first `single_tickets` of them again as one task each; for each
    of `variants` (label → version; default: the active model), one after the other on one worker."""
    active = env.registry.active_version()
    assert active is not None
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    store_backlog(env.session_factory, texts, received_at=t0)
    store_backlog(env.session_factory, texts[:single_tickets], received_at=t0 + timedelta(days=1))
    worker = env.start_worker("batch")
    time.sleep(3)  # let the worker load its libraries before the clock starts
    results = {
        label: _variant(env, version, t0=t0, timeout=timeout)
        for label, version in (variants or {"active model": active}).items()
    }
    worker_rss = rss_mb(worker)
    env.stop_workers()
    return {"threads": env.threads, "variants": results, "worker_rss_mb": round(worker_rss, 1)}
