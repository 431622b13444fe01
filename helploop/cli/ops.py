"""Set-up and operations: `init`, `db upgrade`, `worker`, `gateway`, `models` (list, show, activate, ...)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from shared.settings import get_settings

ENV_FILE = Path(".env")


def cmd_init(args: argparse.Namespace) -> int:
    """Write `.env` with fresh random secrets, unless it exists."""
    path = Path(args.env_file)
    if path.exists() and not args.force:
        print(f"{path} exists; keeping it (use --force to regenerate)")
        return 0
    lines = [
        f"HELPLOOP_ENV={args.env}",
        f"HELPLOOP_WEBHOOK_SECRETS={secrets.token_urlsafe(32)}",
        f"HELPLOOP_API_KEYS={secrets.token_urlsafe(32)}",
        f"HELPLOOP_ADMIN_API_KEYS={secrets.token_urlsafe(32)}",
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {path} with new webhook secret and API key")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from shared.db import upgrade_database

    upgrade_database(get_settings().database_url, args.revision)
    return 0


def metrics_dir_for(role: str, port: int) -> None:
    """Before anything imports prometheus_client: this process group's own, emptied, metrics directory."""
    from shared.metrics_setup import prepare_multiprocess_dir

    prepare_multiprocess_dir(get_settings().metrics_dir / f"{role}-{port}")


def cmd_worker(args: argparse.Namespace) -> int:
    port = get_settings().worker_metrics_port if args.metrics_port is None else args.metrics_port
    metrics_dir_for("worker", port)
    from services.inference.worker import run_worker

    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
    run_worker(args.celery_args, queues=queues, metrics_port=port)
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    metrics_dir_for("gateway", int(args.bind.rsplit(":", 1)[-1]) if ":" in args.bind else 0)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn,
        "--config",
        "python:services.gateway.gunicorn_conf",
        "--workers",
        str(args.workers),
        "--bind",
        args.bind,
        "--access-logfile",
        "-",
        "--logger-class",
        "services.gateway.access_log.RedactingLogger",
        "services.gateway.app:create_app()",
    ]
    os.execv(gunicorn, argv)


def _redis_client() -> object:
    from shared.redis_client import redis_from_settings

    settings = get_settings()
    return redis_from_settings(
        settings, socket_connect_timeout=settings.broker_connect_timeout_s, socket_timeout=5
    )


def _print_models(models: list[dict]) -> None:
    for model in models:
        validation = (model["metrics"].get("validation") or {}).get("macro_f1")
        f1 = f"macro-F1 {validation:.3f}" if isinstance(validation, float) else ""
        print(f"{model['status']:<10} {model['version']:<26} {model['created_at'] or '':<33} {f1}")


def cmd_models(args: argparse.Namespace) -> int:
    from shared import model_lifecycle as lifecycle
    from shared.registry import Registry

    settings = get_settings()
    directories = {
        "classifier": settings.model_registry_dir,
        "generator": settings.generator_registry_dir,
        "encoder": settings.encoder_registry_dir,
    }
    registry = Registry(directories[args.kind])
    if args.action == "list":
        _print_models(lifecycle.list_models(registry))
        return 0
    if args.action == "show":
        version = args.version or registry.active_version() or ""
        print(
            json.dumps(
                {**lifecycle.describe_model(registry, version), "manifest": registry.manifest(version)},
                indent=2,
            )
        )
        return 0
    client = _redis_client()
    if args.action == "activate":
        if not args.version:
            raise ValueError("models activate needs a version")
        result = lifecycle.activate_model(
            registry=registry, version=args.version, redis_client=client, force=args.force, kind=args.kind
        )
    elif args.action == "rollback":
        result = lifecycle.rollback_model(registry=registry, redis_client=client, kind=args.kind)
    else:  # shadow: a version, or "off"
        version = None if args.version in (None, "off") else args.version
        result = lifecycle.set_shadow_model(
            registry=registry, version=version, redis_client=client, kind=args.kind
        )
    print(json.dumps(result))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("init", help="write .env with fresh secrets")
    p.add_argument("--env-file", default=str(ENV_FILE))
    p.add_argument("--env", default="dev", choices=["dev", "test", "prod"])
    p.add_argument("--force", action="store_true")
    p.set_defaults(handler=cmd_init)
    p = commands.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade"])
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(handler=cmd_db_upgrade)
    p = commands.add_parser("worker", help="run an inference worker (Celery; queues triage, kb, drafts)")
    p.add_argument("--queues", help="comma-separated queues to serve (default: all)")
    p.add_argument(
        "--metrics-port",
        type=int,
        help="HTTP port of /metrics (default: HELPLOOP_WORKER_METRICS_PORT; 0: none)",
    )
    p.add_argument("celery_args", nargs=argparse.REMAINDER, help="extra Celery worker options")
    p.set_defaults(handler=cmd_worker)
    p = commands.add_parser("gateway", help="run the gateway under gunicorn")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(handler=cmd_gateway)
    p = commands.add_parser(
        "models", help="list, show, activate, roll back or shadow classifier (or generator, encoder) versions"
    )
    p.add_argument("action", choices=["list", "show", "activate", "rollback", "shadow"])
    p.add_argument(
        "--kind",
        choices=["classifier", "generator", "encoder"],
        default="classifier",
        help="which registry (default classifier); the workers swap to a new active version between tasks",
    )
    p.add_argument("version", nargs="?", help="a version ('shadow off' stops shadowing)")
    p.add_argument("--force", action="store_true", help="activate even a version the gate rejected")
    p.set_defaults(handler=cmd_models)
