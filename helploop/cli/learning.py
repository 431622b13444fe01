"""The learning loop's commands: `training-worker`, `beat`, `retrain`, `training-runs`, `reclassify`,
`simulate-resolutions`."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from shared.settings import get_settings


def cmd_training_worker(args: argparse.Namespace) -> int:
    from helploop.cli.ops import metrics_dir_for

    port = get_settings().training_metrics_port if args.metrics_port is None else args.metrics_port
    metrics_dir_for("training", port)
    from services.trainer.worker import run_training_worker

    run_training_worker(args.celery_args, metrics_port=port)
    return 0


def cmd_beat(args: argparse.Namespace) -> int:
    from services.trainer.worker import run_beat

    run_beat(args.celery_args)
    return 0


def _retrain_context() -> Any:
    from services.trainer.tasks import training_context

    return training_context(get_settings())


def cmd_retrain(args: argparse.Namespace) -> int:
    """Run a retraining in this process (same code path as the worker, same lock)."""
    from services.trainer.tasks import retrain_with_lock
    from shared.learning.runs import create_run, get_run

    context = _retrain_context()
    run = create_run(
        session_factory=context.session_factory,
        trigger="manual",
        options={"force": args.force, "promote": args.promote},
        stale_after_s=context.settings.training_time_limit_s,
    )
    print(f"training run {run.id} started (this takes minutes)", flush=True)
    status = retrain_with_lock(run_id=run.id, context=context)
    result = get_run(session_factory=context.session_factory, run_id=run.id)
    summary = result.model_dump(mode="json", exclude={"report"}) if result else {"status": status}
    print(json.dumps(summary, indent=2))
    return 0 if status in ("promoted", "shadow", "passed", "skipped") else 1


def cmd_training_runs(args: argparse.Namespace) -> int:
    from shared.db import build_engine, build_session_factory
    from shared.learning.runs import get_run, list_runs

    factory = build_session_factory(build_engine(get_settings().database_url))
    if args.run:
        run = get_run(session_factory=factory, run_id=args.run)
        print(json.dumps(run.model_dump(mode="json") if run else None, indent=2))
        return 0 if run else 1
    for run in list_runs(session_factory=factory, limit=args.limit):
        reasons = "; ".join(str(r) for r in run.reasons)[:120]
        print(
            f"{run.id}  {run.status:<9} {run.trigger:<8} {run.requested_at:%Y-%m-%d %H:%M}  "
            f"{run.candidate_version or '-':<24} {reasons}"
        )
    return 0


def _when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _progress(job: Any) -> None:
    width = 40
    filled = int(job.progress * width)
    bar = "#" * filled + "-" * (width - filled)
    counts = f"{job.done_chunks}/{job.total_chunks} chunks, {job.processed_items}/{job.total_items} tickets"
    print(f"\r[{bar}] {counts}", end="", file=sys.stderr, flush=True)


def _follow(factory: Any, job_id: str, interval: float) -> int:
    """A progress bar until the job ends; Ctrl-C stops watching, not the job."""
    from shared.learning.jobs import get_job

    while True:
        job = get_job(session_factory=factory, job_id=job_id)
        assert job is not None
        _progress(job)
        if job.status != "running":
            print(file=sys.stderr)
            print(json.dumps(job.model_dump(mode="json"), indent=2))
            return 0 if job.status == "done" else 1
        time.sleep(interval)


def cmd_reclassify(args: argparse.Namespace) -> int:
    """Create a job (or resume one) and hand its chunks to the workers (queue `batch`) as a group."""
    from shared.celery_app import create_celery
    from shared.db import build_engine, build_session_factory
    from shared.learning import jobs
    from shared.learning.dispatch import dispatch_chunks
    from shared.registry import Registry

    settings = get_settings()
    factory = build_session_factory(build_engine(settings.database_url))
    app = create_celery(settings, name="helploop-cli")
    if args.resume:
        jobs.reopen_job(session_factory=factory, job_id=args.resume)
        job_id, positions = args.resume, jobs.pending_chunks(session_factory=factory, job_id=args.resume)
    else:
        if not args.since:
            raise ValueError("reclassify needs --since (or --resume JOB)")
        version = args.model or Registry(settings.model_registry_dir).active_version()
        if version is None:
            raise ValueError("no active model; pass --model")
        Registry(settings.model_registry_dir).manifest(version)
        until = _when(args.until) if args.until else None
        job = jobs.create_reclassify_job(
            session_factory=factory,
            since=_when(args.since),
            until=until,
            model_version=version,
            chunk_size=args.chunk_size,
        )
        job_id, positions = job.id, list(range(job.total_chunks))
    if positions:
        dispatch_chunks(app, job_id, positions)
    print(f"job {job_id}: {len(positions)} chunk(s) queued on `batch`", file=sys.stderr)
    return 0 if args.no_wait else _follow(factory, job_id, args.interval)


def _store(factory: Any, publish: Any, r: Any, *, external_id: str, index: int, start: datetime) -> str:
    """One simulated ticket stored as received and published to the workers (its outbox message; when
    Redis is away the gateway's relay sends it later), so it goes through triage and drafting."""
    from datetime import timedelta

    from services.gateway.tickets.service import ingest_ticket
    from shared.tickets.schemas import TicketIn

    subject, _, body = r.ticket.partition("\n\n")
    ticket = TicketIn.model_validate(
        {
            "external_id": external_id,
            "subject": subject[:1000],
            "body": body or subject,
            "customer": {"id": external_id, "name": r.customer_name},  # one customer each, per seed
            "created_at": start + timedelta(minutes=index),
        }
    )
    accepted = ingest_ticket(
        session_factory=factory,
        publish=publish,
        source="api",
        event_id=ticket.external_id,
        ticket=ticket,
    )
    return accepted.ticket_id


def _publish(app: Any, task: str, args: list[Any]) -> None:
    from shared.celery_app import enqueue

    enqueue(app, task, *args)


def _resolve(factory: Any, r: Any, ticket_id: str, *, at: datetime) -> None:
    """The ticket's resolution: the final intent and the agent's reply (scored against its draft, if any)."""
    from services.gateway.feedback.service import record_resolution

    record_resolution(
        session_factory=factory,
        source="api",
        final_labels={"label": r.intent},
        reply=r.reply,
        ticket_id=ticket_id,
        resolved_at=at,
    )


def _wait_for_drafts(factory: Any, ticket_ids: list[str], *, timeout_s: float) -> int:
    """Wait (progress bar) until every ticket has a draft, at most `timeout_s`; how many have one."""
    from sqlalchemy import func, select
    from tqdm import tqdm

    from shared.db import session_scope
    from shared.drafting.models import Draft

    deadline, drafted = time.monotonic() + timeout_s, 0
    with tqdm(total=len(ticket_ids), desc="waiting for drafts", unit="ticket") as bar:
        while drafted < len(ticket_ids) and time.monotonic() < deadline:
            time.sleep(2.0)
            with session_scope(factory) as session:
                query = select(func.count(func.distinct(Draft.ticket_id))).where(
                    Draft.ticket_id.in_(ticket_ids)
                )
                now = session.scalar(query) or 0
            bar.update(now - drafted)
            drafted = now
    return drafted


def cmd_simulate_resolutions(args: argparse.Namespace) -> int:
    """Demo tickets stored and resolved with an agent's reply, as a helpdesk's solved events would do."""
    from datetime import timedelta

    from tqdm import tqdm

    from helploop.cli.kb import _knowledge_base
    from services.trainer.demo_replies import demo_resolutions
    from shared.celery_app import create_celery
    from shared.db import build_engine, build_session_factory
    from shared.kb.search import relevant_passages

    settings = get_settings()
    knowledge = _knowledge_base()
    resolutions = demo_resolutions(
        retrieve=lambda text: relevant_passages(knowledge, text, k=3, min_score=None),
        per_intent=max(1, -(-args.count // 14)),
        seed=args.seed,
        style=args.style,
    )[: args.count]
    factory = build_session_factory(build_engine(settings.database_url))
    app = create_celery(settings, name="helploop-cli")
    publish = functools.partial(_publish, app)
    start = datetime.now(UTC) - timedelta(minutes=len(resolutions))
    ids = [
        _store(factory, publish, r, external_id=f"sim-{args.seed}-{i}", index=i, start=start)
        for i, r in enumerate(tqdm(resolutions, desc="storing", unit="ticket"))
    ]
    summary: dict[str, Any] = {"resolved": len(resolutions), "style": args.style, "seed": args.seed}
    if args.after_drafts:
        summary["drafted"] = _wait_for_drafts(factory, ids, timeout_s=args.draft_timeout)
    for i, (r, ticket_id) in enumerate(
        zip(tqdm(resolutions, desc="resolving", unit="ticket"), ids, strict=True)
    ):
        at = datetime.now(UTC) if args.after_drafts else start + timedelta(minutes=i, seconds=30)
        _resolve(factory, r, ticket_id, at=at)
    if args.after_drafts:
        from shared.drafting.adoption_service import adoption_report

        summary["adoption"] = adoption_report(session_factory=factory, window_days=1)
    print(json.dumps(summary, indent=2 if args.after_drafts else None, ensure_ascii=False))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("training-worker", help="run the training worker (Celery queue `training`)")
    p.add_argument("--metrics-port", type=int, help="HTTP port of /metrics (default 9311; 0: none)")
    p.add_argument("celery_args", nargs=argparse.REMAINDER, help="extra Celery worker options")
    p.set_defaults(handler=cmd_training_worker)
    p = commands.add_parser("beat", help="run the scheduler of nightly retraining (HELPLOOP_RETRAIN_CRON)")
    p.add_argument("celery_args", nargs=argparse.REMAINDER, help="extra Celery beat options")
    p.set_defaults(handler=cmd_beat)
    p = commands.add_parser("retrain", help="retrain from resolved tickets now, in this process, gated")
    p.add_argument("--force", action="store_true", help="even with few new resolved tickets")
    p.add_argument("--promote", choices=["activate", "shadow", "none"], default="activate")
    p.set_defaults(handler=cmd_retrain)
    p = commands.add_parser(
        "reclassify", help="reclassify stored tickets in chunks on the workers, with progress"
    )
    p.add_argument("--since", help="ISO date or time (UTC unless an offset is given)")
    p.add_argument("--until", help="exclusive end (default: now)")
    p.add_argument("--model", help="model version (default: the active one)")
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--resume", metavar="JOB", help="re-enqueue the unfinished chunks of a job")
    p.add_argument("--no-wait", action="store_true", help="return once queued")
    p.add_argument("--interval", type=float, default=1.0, help="progress refresh, seconds")
    p.set_defaults(handler=cmd_reclassify)
    p = commands.add_parser("training-runs", help="list training runs, or show one with its gate report")
    p.add_argument("run", nargs="?")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler=cmd_training_runs)
    p = commands.add_parser(
        "simulate-resolutions",
        help="store demo tickets resolved with an agent's reply (try the learning loop without a helpdesk)",
        description="Generates seeded demo tickets, stores them and records each one's resolution with the "
        "final intent and an agent's reply grounded in the knowledge base, as a helpdesk's solved events "
        "would. `--style team` writes in a team's own voice (named agents, their greeting and closing): the "
        "nightly retrain then has something of its own to learn.",
    )
    p.add_argument("--count", type=int, default=500, help="resolved tickets (default 500)")
    p.add_argument("--seed", type=int, default=77, help="seed of the demo tickets (default 77)")
    p.add_argument("--style", choices=["demo", "team"], default="team")
    p.add_argument(
        "--after-drafts",
        action="store_true",
        help="resolve each ticket only once the workers drafted it, then print the drafts' adoption "
        "(GET /v1/drafts/adoption over the last day): needs `helploop run` or its workers",
    )
    p.add_argument(
        "--draft-timeout", type=float, default=1800.0, help="--after-drafts: wait at most this long (s)"
    )
    p.set_defaults(handler=cmd_simulate_resolutions)
