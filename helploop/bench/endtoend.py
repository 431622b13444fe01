"""End to end: gunicorn serving the gateway, a real triage worker, Redis and SQLite, driven by the open-loop
generator at rising rates, for two worker set-ups (prefork, one task at a time; threads with dynamic
micro-batching). Per rate: webhook acknowledgment and received → triaged latency (p50/p95/p99) and the
backlog left when sending stops; the highest rate sustained; and what the queue path adds over
classifying the same tickets in-process. Scale-out: the prefork worker again with 2, 3, … processes (up to
the cores), the highest rate sustained per process count, not profiled."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import psutil
from sqlalchemy import func, select

from helploop.bench.harness import BIN, WEBHOOK_SECRET, BenchEnv, rss_mb, wait_until
from helploop.bench.loadgen import Sent, WebhookSender, send_open_loop
from helploop.bench.profile import start_profile, summarize
from helploop.bench.scale import FULL, Scale
from helploop.cli.run import wait_ready
from shared.redis_server import free_port
from shared.tickets.models import Ticket, TicketStatus, TriageResult

log = logging.getLogger(__name__)
PROFILED_RATE = 25  # py-spy samples each worker at this rate (or the highest it sustained, if lower)
MAX_ACK_P99_MS = 1000.0  # beyond this the gateway, not the pipeline, is what queues
WORKER_SETUPS = {
    "prefork, 1 process": {"HELPLOOP_WORKER_POOL": "prefork", "HELPLOOP_WORKER_CONCURRENCY": "1"},
    "threads ×16, micro-batching": {"HELPLOOP_WORKER_POOL": "threads", "HELPLOOP_WORKER_CONCURRENCY": "16"},
}
SCALE_OUT = "prefork, {n} processes"
INT8_SETUP = "prefork, 1 process, int8 classifier"  # the active model's int8 child served instead


def scale_out_setups(scale: Scale, cores: int | None = None) -> dict[str, dict[str, str]]:
    """The prefork worker with 2 … min(cores, scale.max_worker_processes) processes."""
    top = min(cores or os.cpu_count() or 1, scale.max_worker_processes)
    return {
        SCALE_OUT.format(n=n): {"HELPLOOP_WORKER_POOL": "prefork", "HELPLOOP_WORKER_CONCURRENCY": str(n)}
        for n in range(2, top + 1)
    }


ID_CHUNK = 500


def percentiles_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p95": None, "p99": None}
    values = np.percentile(np.asarray(seconds) * 1000.0, [50, 95, 99])
    return {name: round(float(v), 1) for name, v in zip(("p50", "p95", "p99"), values, strict=True)}


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


def untriaged(factory: Any, ids: list[str]) -> int:
    with factory() as session:
        return sum(
            session.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.id.in_(chunk), Ticket.status != TicketStatus.TRIAGED)
            )
            or 0
            for chunk in _chunks(ids)
        )


def triage_seconds(factory: Any, ids: list[str]) -> list[float]:
    """received (stamped by the gateway as it stores the ticket) → triaged (the worker's commit)."""
    rows = []
    with factory() as session:
        for chunk in _chunks(ids):
            query = select(Ticket.received_at, Ticket.triaged_at).where(
                Ticket.id.in_(chunk), Ticket.triaged_at.is_not(None)
            )
            rows += session.execute(query).all()
    return [max(0.0, (triaged - received).total_seconds()) for received, triaged in rows]


def cpu_seconds(procs: dict[str, Any]) -> dict[str, float]:
    """CPU time (user + system) so far of each named process and its children (not this process's: the
    services it started)."""
    seconds = {}
    for name, pid in procs.items():
        try:
            parent = psutil.Process(pid)
            members = [parent, *(parent.children(recursive=True) if pid != os.getpid() else [])]
            seconds[name] = sum(sum(p.cpu_times()[:2]) for p in members)
        except psutil.NoSuchProcess:
            seconds[name] = 0.0
    return seconds


def run_step(
    env: BenchEnv,
    sender: WebhookSender,
    texts: list[str],
    rate: float,
    duration_s: float,
    pids: dict[str, int],
) -> dict:
    factory = env.session_factory
    before = cpu_seconds(pids)
    sent: list[Sent] = send_open_loop(sender, texts, rate=rate, duration_s=duration_s)
    ids = [s.ticket_id for s in sent if s.ticket_id]
    backlog = untriaged(factory, ids)
    try:
        drain_s: float | None = wait_until(lambda: untriaged(factory, ids) == 0, timeout=30, interval=0.1)
    except TimeoutError:
        drain_s = None
    after = cpu_seconds(pids)
    cpu_ms = {name: round(1000 * (after[name] - before[name]) / max(1, len(ids)), 2) for name in pids}
    errors = sum(1 for s in sent if s.status not in (200, 202))
    ack = percentiles_ms([s.ack_s for s in sent if s.status in (200, 202)])
    acked = ack["p99"] is not None and ack["p99"] <= MAX_ACK_P99_MS
    sustained = errors == 0 and acked and drain_s is not None and backlog <= max(5, 0.5 * rate)
    return {
        "rate": rate,
        "sent": len(sent),
        "errors": errors,
        "ack_ms": ack,
        "triage_ms": percentiles_ms(triage_seconds(factory, ids)),
        "backlog_at_end": backlog,
        "drain_s": None if drain_s is None else round(drain_s, 2),
        "cpu_ms_per_ticket": cpu_ms,
        "sustained": sustained,
    }


def _warm_up(env: BenchEnv, sender: WebhookSender, texts: list[str], seconds: float) -> None:
    """Tickets of every length through the worker first: onnxruntime's first run of a shape is slow."""
    sent = send_open_loop(sender, texts, rate=100, duration_s=seconds)
    ids = [s.ticket_id for s in sent if s.ticket_id]
    wait_until(lambda: untriaged(env.session_factory, ids) == 0, timeout=120, interval=0.2)


def settle(env: BenchEnv, timeout: float = 120) -> None:
    """Wait until every ticket sent so far is triaged: a step that was not sustained leaves a backlog that
    must not count against the next one."""

    def settled() -> bool:
        with env.session_factory() as session:
            query = select(func.count()).select_from(Ticket).where(Ticket.status != TicketStatus.TRIAGED)
            return not session.scalar(query)

    wait_until(settled, timeout=timeout, interval=0.2)


def rate_steps(run: Any, rates: tuple[float, ...], refine_to: float) -> list[dict[str, Any]]:
    """Up the ladder until a rate is not sustained, then halve the gap between the highest sustained
    rate and the lowest that was not until it is at most `refine_to` tickets/s: the real highest rate."""
    steps: list[dict[str, Any]] = []
    for rate in rates:
        steps.append(run(rate))
        if not steps[-1]["sustained"]:
            break
    sustained = [s["rate"] for s in steps if s["sustained"]]
    failed = [s["rate"] for s in steps if not s["sustained"]]
    low, high = max(sustained, default=0.0), min(failed, default=None)
    while refine_to > 0 and high is not None and high - low > refine_to:
        rate = float(round((low + high) / 2))
        if rate in (low, high):
            break
        steps.append(run(rate))
        low, high = (rate, high) if steps[-1]["sustained"] else (low, rate)
    return sorted(steps, key=lambda s: s["rate"])


def run_setup(
    env: BenchEnv,
    sender: WebhookSender,
    texts: list[str],
    extra_env: dict[str, str],
    *,
    scale: Scale,
    gateway_pid: int,
    profiled: bool = True,
) -> dict:
    worker = env.start_worker("triage", extra_env)
    _warm_up(env, sender, texts, min(scale.warm_up_s, scale.step_seconds))
    pids = {"gateway": gateway_pid, "worker": worker.pid, "load generator": os.getpid()}

    def step(rate: float) -> dict[str, Any]:
        settle(env)
        result = run_step(env, sender, texts, rate, scale.step_seconds, pids)
        log.info("end to end %s at %s/s: %s", extra_env, rate, result)
        return result

    steps = rate_steps(step, scale.rates, scale.refine_to)
    sustained = [s["rate"] for s in steps if s["sustained"]]
    profile = None
    if scale.profile and profiled:
        settle(env)
        rate = min(PROFILED_RATE, max(sustained, default=scale.rates[0]))
        profile = _profiled_step(env, sender, texts, worker.pid, rate, scale.step_seconds)
    result = {
        "steps": steps,
        "profile": profile,
        "max_sustained_rate": max(sustained, default=None),
        "worker_rss_mb": round(rss_mb(worker), 1),
    }
    env.stop(worker)
    return result


def _profiled_step(
    env: BenchEnv, sender: WebhookSender, texts: list[str], pid: int, rate: float, duration_s: float
) -> dict[str, Any] | None:
    """One more step, not measured, while py-spy samples the worker (profiling costs CPU of its own)."""
    raw = env.root / f"worker-{pid}.prof"
    spy = start_profile(pid, duration_s, raw)
    if spy is None:
        return None
    sent = send_open_loop(sender, texts, rate=rate, duration_s=duration_s)
    ids = [s.ticket_id for s in sent if s.ticket_id]
    wait_until(lambda: untriaged(env.session_factory, ids) == 0, timeout=60, interval=0.2)
    if spy.wait(timeout=60) != 0 or not raw.is_file():
        return None
    return {"rate": rate, "percent_of_busy_samples": summarize(raw)}


def in_process_ms(env: BenchEnv, texts: list[str], *, count: int = 300) -> dict[str, float | None]:
    """The same work without the queue: the gateway's `ingest_ticket` (nothing enqueued) then the worker's
    `classify_ticket`, here in one process; received → triaged from the same database timestamps."""
    from helploop.cli.client import ticket_payload
    from services.gateway.tickets.service import ingest_ticket
    from services.inference.model_holder import ActiveModel
    from services.inference.triage import TriageContext, classify_ticket
    from shared.tickets.schemas import WebhookEnvelope

    factory = env.session_factory
    model = ActiveModel(env.registry, intra_op_threads=env.threads)
    context = TriageContext(session_factory=factory, model=model)
    ids = []
    for i in range(count):
        envelope = WebhookEnvelope.model_validate(ticket_payload(texts[i % len(texts)]))
        stored = ingest_ticket(
            session_factory=factory,
            publish=lambda _task, _args: None,  # the outbox message is written, not sent
            source="in-process",
            event_id=envelope.event_id,
            ticket=envelope.ticket,
        )
        classify_ticket(ticket_id=stored.ticket_id, context=context)
        ids.append(stored.ticket_id)
    return percentiles_ms(triage_seconds(factory, ids[30:]))  # the first: model load, first shapes


def _served_int8(
    env: BenchEnv, sender: WebhookSender, texts: list[str], version: str, *, scale: Scale, gateway_pid: int
) -> dict:
    """The prefork set-up again with `version` (the active model's int8 child) active, then the model
    measured before active again: what serving int8 saves per ticket, side by side in one run."""
    before = env.registry.active_version()
    env.registry.activate(version)
    try:
        setup = WORKER_SETUPS["prefork, 1 process"]
        result = run_setup(env, sender, texts, setup, scale=scale, gateway_pid=gateway_pid)
        with env.session_factory() as session:
            query = (
                select(func.count()).select_from(TriageResult).where(TriageResult.model_version == version)
            )
            return {"version": version, "tickets_it_classified": session.scalar(query), **result}
    finally:
        if before is not None:
            env.registry.activate(before)


def _all_setups(
    env: BenchEnv,
    sender: WebhookSender,
    texts: list[str],
    *,
    scale: Scale,
    gateway_pid: int,
    int8_version: str | None,
) -> dict[str, dict]:
    """The worker set-ups, the int8 child served (when given), then scale-out (not profiled)."""
    setups = {
        name: run_setup(env, sender, texts, extra, scale=scale, gateway_pid=gateway_pid)
        for name, extra in WORKER_SETUPS.items()
    }
    if int8_version is not None:
        setups[INT8_SETUP] = _served_int8(
            env, sender, texts, int8_version, scale=scale, gateway_pid=gateway_pid
        )
    for name, extra in scale_out_setups(scale).items():
        setups[name] = run_setup(
            env, sender, texts, extra, scale=scale, gateway_pid=gateway_pid, profiled=False
        )
    return setups


def bench_end_to_end(
    env: BenchEnv,
    texts: list[str],
    *,
    scale: Scale = FULL,
    int8_version: str | None = None,
) -> dict[str, Any]:
    """`int8_version`: an int8 child of the active model in `env.registry`, measured as one more set-up."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [
        str(BIN / "helploop"),
        "gateway",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(scale.gateway_workers),
    ]
    gateway = env.start("gateway", argv)
    wait_ready(base_url, [gateway], timeout=120)
    sender = WebhookSender(base_url, WEBHOOK_SECRET)
    setups = _all_setups(env, sender, texts, scale=scale, gateway_pid=gateway.pid, int8_version=int8_version)
    gateway_rss = rss_mb(gateway)
    web_worker_rss = max(
        (c.memory_info().rss for c in psutil.Process(gateway.pid).children(recursive=True)), default=0
    )
    env.stop(gateway)
    reference = in_process_ms(env, texts, count=scale.in_process_tickets)
    for result in setups.values():
        lowest = result["steps"][0]["triage_ms"]["p50"] if result["steps"] else None
        result["queue_overhead_p50_ms"] = None if lowest is None else round(lowest - reference["p50"], 1)
    return {
        "threads": env.threads,
        "gateway_workers": scale.gateway_workers,
        "step_seconds": scale.step_seconds,
        "gateway_rss_mb": round(gateway_rss, 1),
        "web_worker_rss_mb": round(web_worker_rss / 1e6, 1),
        "in_process_ms": reference,
        "setups": setups,
    }
