"""`helploop run` (what `make run` calls): Redis, database, a model, gateway and worker, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from shared.settings import Settings, get_settings

if TYPE_CHECKING:  # the commands import what they use: `helploop gateway` runs this module's import only
    from shared.redis_server import EmbeddedRedis

log = logging.getLogger(__name__)
DEMO_DATA = Path("var/demo/tickets.csv")
DEMO_GOLDEN = Path("var/demo/golden.csv")
DEMO_LANGUAGES = "en,zh"  # the demo shop's customers write English and Chinese
DRAFTS_METRICS_PORT = 9312  # beside the main worker's (HELPLOOP_WORKER_METRICS_PORT) on the same host
DRAFTS_METRICS = [
    "--metrics-port",
    str(DRAFTS_METRICS_PORT),
]  # another seed: a fixed test set no model trains on
MEDIA_METRICS_PORT = 9314  # the attachments worker (downloads, OCR, speech)
SHADOW_DRAFTS_METRICS_PORT = 9313  # the shadow generator's worker: idle until a generator runs in shadow


def ensure_redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    from shared.redis_client import is_sentinel_url
    from shared.redis_server import redis_reachable, start_embedded_redis

    if is_sentinel_url(settings.redis_url):  # a configured high-availability Redis: never replaced
        log.info("using Redis Sentinel at %s (master %s)", settings.redis_url, settings.redis_sentinel_master)
        return settings.redis_url, None
    if redis_reachable(settings.redis_url):
        log.info("using Redis at %s", settings.redis_url)
        return settings.redis_url, None
    log.warning("no Redis answers at %s; starting the bundled redis-server", settings.redis_url)
    embedded = start_embedded_redis(Path("var/redis"), persist=True)
    return embedded.url, embedded


def ensure_model(settings: Settings, *, epochs: int) -> None:
    from shared.registry import Registry

    registry = Registry(settings.model_registry_dir)
    if registry.active_version():
        log.info("active model: %s", registry.active_version())
        return
    helploop = str(Path(sys.executable).with_name("helploop"))
    log.info("no active model: training the bilingual demo model (about 10 minutes on 2 cores)")
    demo = [helploop, "demo-data", "--out", str(DEMO_DATA), "--languages", DEMO_LANGUAGES]
    subprocess.run(demo, check=True)
    # the demo inbox (threads, two-request and vague tickets: demo_realism) is learned in 4 epochs at a
    # higher rate; no label smoothing (e5's recipe smooths for rare intents of public sets), confidences
    # are calibrated on validation after training (docs/models.md, "The demo shop's tickets")
    train = [helploop, "train", "--train", str(DEMO_DATA), "--epochs", str(epochs), "--learning-rate", "3e-4"]
    train += ["--label-smoothing", "0"]
    heads = ["--head", "intent=label", "--head", "sentiment=sentiment", "--head", "priority=priority"]
    subprocess.run([*train, *heads, "--activate"], check=True)


def golden_set_env(settings: Settings) -> dict[str, str]:
    """The retraining gate's fixed test set: the configured one, else the demo golden set (written once)."""
    if settings.golden_set_file is not None:
        return {}
    if not DEMO_GOLDEN.is_file():
        helploop = str(Path(sys.executable).with_name("helploop"))
        subprocess.run(
            [
                *(helploop, "demo-data", "--out", str(DEMO_GOLDEN), "--per-intent", "30", "--seed", "99"),
                *("--languages", DEMO_LANGUAGES),
            ],
            check=True,
        )
    return {"HELPLOOP_GOLDEN_SET_FILE": str(DEMO_GOLDEN.resolve())}


def ensure_knowledge_base(settings: Settings) -> None:
    """Export the sentence encoder once (cached by weights hash) and import the demo articles when the
    knowledge base is empty."""
    from shared.db import build_engine, build_session_factory, session_scope
    from shared.kb.store import count_articles

    helploop = str(Path(sys.executable).with_name("helploop"))
    subprocess.run([helploop, "kb", "build-encoder"], check=True)
    with session_scope(build_session_factory(build_engine(settings.database_url))) as session:
        if count_articles(session=session):
            return
    log.info("empty knowledge base: importing the demo shop's articles")
    subprocess.run([helploop, "kb", "import", "--demo"], check=True)


# one bilingual generator for the bilingual demo shop: Qwen2.5-0.5B writes Chinese and English (SmolLM2
# only English); 4-bit weights keep the drafts worker under 1 GB. Measured in docs/models.md
# ("Drafts in the customer's language")
DEMO_GENERATOR = [
    *("--demo", "--languages", DEMO_LANGUAGES, "--base-model", "qwen2.5-0.5b", "--serve", "w4"),
    *("--per-intent", "20", "--followups", "10", "--max-steps", "60", "--train-layers", "8"),
    *("--learning-rate", "1e-4"),
]


def _active_generator_fine_tuned(settings: Settings) -> bool:
    import json

    from shared.registry import Registry

    registry = Registry(settings.generator_registry_dir)
    version = registry.active_version()
    if version is None:
        return False
    config = json.loads((registry.bundle_dir(version) / "config.json").read_text())
    return bool(config.get("fine_tuned"))


def ensure_generator(settings: Settings) -> None:
    """Fine-tune the generator on the demo shop's resolved tickets in English and Chinese (about 25 minutes
    on 2 cores) when no fine-tuned one is active: an untuned model is never a draft source."""
    if not settings.drafts_enabled or _active_generator_fine_tuned(settings):
        return
    log.info("no fine-tuned reply generator: fine-tuning Qwen2.5-0.5B on the demo shop's resolved tickets")
    subprocess.run(
        [str(Path(sys.executable).with_name("helploop")), "train-generator", *DEMO_GENERATOR], check=True
    )


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, start_new_session=True)


def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """Poll `/readyz` until 200; fail early when one of `procs` exits."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a service exited during start-up; see its log above")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gateway not ready at {url}/readyz after {timeout:.0f}s")


def stop_process_groups(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group, SIGKILL what is still there after 20 s."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _start_services(
    procs: list[subprocess.Popen[bytes]], helploop: Path, env: dict[str, str], *, bind: str
) -> None:
    """The gateway, the workers, the training worker and the beat, each appended to `procs` as it starts
    (so that a failure part-way stops those already running)."""
    procs.append(_spawn([str(helploop), "gateway", "--bind", bind], env))
    # classification never waits behind a slow draft: drafting has its own worker process
    procs.append(_spawn([str(helploop), "worker", "--queues", "triage,kb,callbacks,batch"], env))
    procs.append(_spawn([str(helploop), "worker", "--queues", "drafts", *DRAFTS_METRICS], env))
    shadow_metrics = ["--metrics-port", str(SHADOW_DRAFTS_METRICS_PORT)]
    procs.append(_spawn([str(helploop), "worker", "--queues", "shadow_drafts", *shadow_metrics], env))
    # attachments: slow downloads and OCR/speech engines in memory, never in the way of triage
    media_metrics = ["--metrics-port", str(MEDIA_METRICS_PORT)]
    procs.append(_spawn([str(helploop), "worker", "--queues", "media", *media_metrics], env))
    procs.append(_spawn([str(helploop), "training-worker"], env))  # nightly retraining
    procs.append(_spawn([str(helploop), "beat"], env))


def _print_banner(url: str, redis_url: str, settings: Settings) -> None:
    print(
        f"\nhelploop is running: gateway {url}, Redis {redis_url}. Try:\n"
        f'  .venv/bin/helploop send-test-ticket "my parcel never arrived" --url {url}\n'
        f'  .venv/bin/helploop send-test-ticket "我的包裹还没到，已经两周了，我要退款" --url {url}\n'
        f"Models: GET {url}/v1/models; retraining: POST {url}/v1/training/runs (admin key in .env).\n"
        f"Metrics: {url}/metrics, worker http://127.0.0.1:{settings.worker_metrics_port}/metrics, "
        f"drafts worker http://127.0.0.1:{DRAFTS_METRICS_PORT}/metrics (shadow drafts "
        f"{SHADOW_DRAFTS_METRICS_PORT}), "
        f"training worker http://127.0.0.1:{settings.training_metrics_port}/metrics\n"
        f"Console: {url}/console/ (sign in with HELPLOOP_ADMIN_API_KEYS from .env; a read-only view with "
        "HELPLOOP_API_KEYS)\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )


def cmd_run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (background jobs)
    settings = get_settings()
    redis_url, embedded = ensure_redis(settings)
    env = {**os.environ, "HELPLOOP_REDIS_URL": redis_url}
    bin_dir = Path(sys.executable).parent
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([str(bin_dir / "helploop"), "db", "upgrade"], env=env, check=True)
        ensure_model(settings, epochs=args.epochs)
        ensure_knowledge_base(settings)
        ensure_generator(settings)
        env.update(golden_set_env(settings))
        _start_services(procs, bin_dir / "helploop", env, bind=args.bind)
        url = f"http://{args.bind}"
        wait_ready(url, procs)
        from helploop.cli.demo_inbox import seed_demo_inbox

        seed_demo_inbox(url, settings, count=args.demo_tickets)
        _print_banner(url, redis_url, settings)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        log.error("a service exited; stopping the others")
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        stop_process_groups(procs)
        if embedded is not None:
            embedded.stop()


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("run", help="start Redis (if needed), a model, the gateway and a worker")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--epochs", type=int, default=4, help="epochs for the demo model when none is active")
    p.add_argument(
        "--demo-tickets",
        type=int,
        default=12,
        help="demo-shop tickets (half English, half Chinese) posted when the inbox is empty, so the console "
        "opens on classified and drafted tickets (0: none)",
    )
    p.set_defaults(handler=cmd_run)
