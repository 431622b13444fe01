"""`helploop bench` (what `make bench` runs): measured sections written to bench/results/."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from helploop.bench.scale import FULL, SMOKE, Scale
from shared.settings import get_settings

log = logging.getLogger(__name__)

SECTIONS = (
    "classification",
    "classification_other_base",
    "generation",
    "memory",
    "endtoend",
    "reclassify",
    "console",
)


def _measured_registry(args: argparse.Namespace, scratch: Path, scale: Scale):  # type: ignore[no-untyped-def]
    """The configured active classifier; on a fresh clone, a demo model trained for the run (about a
    minute: throughput does not depend on how well it was trained)."""
    from services.trainer.base_model import MINILM_L6
    from shared.registry import Registry

    registry = Registry(Path(args.registry) if args.registry else get_settings().model_registry_dir)
    if registry.active_version():
        return registry
    return _demo_registry(scratch, MINILM_L6, get_settings().cache_dir, scale)


def other_base(source) -> str:  # type: ignore[no-untyped-def]
    """The base model the measured classifier was not trained from: `make bench` shows both."""
    from services.trainer.base_model import MINILM_L6, MULTILINGUAL_E5_SMALL

    base = source.manifest(source.active_version()).get("base_model") or {}
    return MINILM_L6 if base.get("name") == MULTILINGUAL_E5_SMALL else MULTILINGUAL_E5_SMALL


def _demo_registry(scratch: Path, base_model: str, cache_dir: Path, scale: Scale):  # type: ignore[no-untyped-def]
    """A demo classifier on `base_model` (bilingual demo tickets for e5), trained for throughput only."""
    from services.trainer.base_model import MULTILINGUAL_E5_SMALL
    from services.trainer.config import TrainConfig
    from services.trainer.demo_data import write_dataset
    from services.trainer.pipeline import run_training
    from shared.registry import Registry

    data = scratch / "demo.csv"
    languages = ("en", "zh") if base_model == MULTILINGUAL_E5_SMALL else ("en",)
    write_dataset(data, per_intent=scale.other_base_per_intent, seed=13, languages=languages)
    heads = {"intent": "label", "sentiment": "sentiment", "priority": "priority"}
    config = TrainConfig(
        train_file=data,
        head_columns=heads,
        max_steps=scale.other_base_steps,
        batch_size=16,
        max_length=128,
        base_model=base_model,
    )
    registry = Registry(scratch / "models")
    run_training(config, registry=registry, cache_dir=cache_dir, activate=True)
    return registry


def cmd_bench(args: argparse.Namespace) -> int:
    """Each section in turn; the results are written after every one (a failing section is recorded with
    its error and the others still run), so a crash late in the run keeps what was measured."""
    from helploop.bench.report import write_results

    settings, scale = get_settings(), SMOKE if args.smoke else FULL
    threads = args.threads or len(os.sched_getaffinity(0))
    begun, out = datetime.now(UTC), Path(args.out)
    sections: dict[str, object] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="helploop-bench-") as tmp:
        scratch = Path(tmp)
        runners = _runners(args, settings, threads, scale, scratch, sections)
        for name in ("limits", *(n for n in SECTIONS if n in args.only)):
            started = time.perf_counter()
            try:
                sections[name] = runners[name]()
            except Exception as exc:  # recorded, the next section still runs
                log.exception("bench section %s failed", name)
                sections[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            seconds[name] = round(time.perf_counter() - started, 1)
            json_path, md_path = write_results(out, sections, seconds=seconds, started=begun)
            log.info("bench section %s done in %.1f s; results so far in %s", name, seconds[name], md_path)
    print(md_path.read_text())
    print(f"results: {json_path} and {md_path}")
    failed = [name for name, result in sections.items() if isinstance(result, dict) and "error" in result]
    if failed:
        print(f"failed sections: {', '.join(failed)} (their errors are in the results and the log above)")
    return 1 if failed else 0


def _runners(args, settings, threads: int, scale: Scale, scratch: Path, sections: dict):  # type: ignore[no-untyped-def]
    """Section name → a function measuring it (the measured registry is resolved once, when needed)."""
    from helploop.bench.limits import gemm_throughput, gpu_gemm_throughput
    from shared.registry import Registry

    # built on first use and kept: a fresh clone's demo classifier is trained once
    source = functools.cache(lambda: _measured_registry(args, scratch / "source", scale))

    def limits() -> object:
        return gpu_gemm_throughput() if args.device == "cuda" else gemm_throughput(threads)

    def other() -> object:
        if args.other_registry:
            registry = Registry(Path(args.other_registry))
        else:
            registry = _demo_registry(scratch / "other", other_base(source()), settings.cache_dir, scale)
        return _classification(registry, settings, threads, sections["limits"], scale)

    return {
        "limits": limits,
        "classification": lambda: _classification(source(), settings, threads, sections["limits"], scale),
        "classification_other_base": other,
        # one scratch registry: the memory section reuses the generation section's bundles
        "generation": lambda: _generation(
            scratch / "generator", settings, threads, args.device, scale, sections["limits"]
        ),
        "memory": lambda: _memory(source(), settings, threads, scratch / "generator", scale),
        "endtoend": lambda: _end_to_end(source(), settings, threads, scratch / "e2e", scale),
        "reclassify": lambda: _reclassify(args, source(), settings, threads, scratch / "env", scale),
        "console": lambda: _console(args, settings, scratch / "console", scale),
    }


def _classification(source, settings, threads: int, limits, scale: Scale):  # type: ignore[no-untyped-def]
    """The classifier's own base (untrimmed) is what the plain transformers way loads."""
    from helploop.bench.classification_suite import bench_classification
    from services.trainer.base_model import MINILM_ENCODER, MINILM_L6, MULTILINGUAL_E5_SMALL, locate
    from services.trainer.e5 import multilingual_e5_dir

    base = source.manifest(source.active_version()).get("base_model") or {}
    name = base.get("name") or MINILM_L6  # bundles from before the choice: MiniLM or their own directory
    if name == MULTILINGUAL_E5_SMALL:
        base_dir = multilingual_e5_dir(settings.cache_dir)
    elif name == MINILM_L6 or not base.get("dir"):
        base_dir = locate(MINILM_ENCODER, settings.base_encoder_dir)
    else:
        base_dir = Path(base["dir"])
    result = bench_classification(
        source=source,
        base_dir=base_dir,
        datasets_dir=settings.datasets_dir,
        threads=threads,
        limits=limits,
        short_n=scale.short_tickets,
        long_n=scale.long_tickets,
        quality_n=scale.quality_tickets,
        passes=scale.passes,
        warm_up=scale.warm_up,
    )
    return {"base_model": name, **result}


def _generation(scratch: Path, settings, threads: int, device: str, scale: Scale, limits):  # type: ignore[no-untyped-def]
    from helploop.bench.generation import bench_generation

    return bench_generation(
        scratch=scratch,
        settings=settings,
        threads=threads,
        device=device,
        new_tokens=scale.new_tokens,
        repeats=scale.generation_repeats,
        batches=scale.generation_batches,
        prompts=scale.generation_prompts,
        drafting_prompts=scale.drafting_prompts,
        warm_up=scale.warm_up,
        memory_gb_s=limits.get("memory_read_gb_s"),
    )


def _memory(source, settings, threads: int, scratch: Path, scale: Scale):  # type: ignore[no-untyped-def]
    from helploop.bench.memory import bench_memory

    return bench_memory(
        source=source, settings=settings, scratch=scratch, threads=threads, new_tokens=scale.new_tokens
    )


def _end_to_end(source, settings, threads: int, scratch: Path, scale: Scale):  # type: ignore[no-untyped-def]
    from helploop.bench.endtoend import bench_end_to_end
    from helploop.bench.harness import bench_env
    from helploop.bench.texts import short_texts

    with bench_env(scratch, source=source, redis_url=settings.redis_url, threads=threads) as env:
        int8 = _int8_child(source, env.registry)
        texts = short_texts(settings.datasets_dir, scale.endtoend_texts).texts
        return bench_end_to_end(env, texts, scale=scale, int8_version=int8)


def _int8_child(source, registry) -> str:  # type: ignore[no-untyped-def]
    """The active model's int8 child (`helploop export --quantize int8`, what `helploop train` serves by
    default on a CPU) in the bench's `registry`: copied from `source` where built there, else made."""
    from services.trainer.derive import copy_derived
    from services.trainer.quantize import quantize_bundle

    active = registry.active_version()
    return copy_derived(source, registry, active, "int8") or quantize_bundle(registry, active)


def _reclassify(args, source, settings, threads: int, scratch: Path, scale: Scale):  # type: ignore[no-untyped-def]
    from helploop.bench.harness import bench_env
    from helploop.bench.reclassify import INT8_CHILD, bench_reclassify
    from services.trainer.demo_data import generate_tickets

    backlog = scale.backlog or args.tickets
    single = scale.single_tickets or args.single_tickets
    with bench_env(scratch, source=source, redis_url=settings.redis_url, threads=threads) as env:
        active, int8 = env.registry.active_version(), _int8_child(source, env.registry)
        variants = {"active model": active, INT8_CHILD: int8}
        texts = [t.text for t in generate_tickets(per_intent=max(1, backlog // 14 + 1), seed=3)]
        return bench_reclassify(env, texts[:backlog], single_tickets=single, variants=variants)


def _console(args, settings, scratch: Path, scale: Scale):  # type: ignore[no-untyped-def]
    """The console's pages over `scale.console_tickets` tickets on SQLite and, given `--postgres-url`, on
    PostgreSQL (in a schema made for the run and dropped after it)."""
    import uuid

    from sqlalchemy import create_engine, text

    from helploop.bench.console import bench_console
    from helploop.bench.console_data import small_registry

    registry = small_registry(scratch / "models")
    measure = functools.partial(
        bench_console,
        redis_url=settings.redis_url,
        registry_dir=registry.root,
        tickets=scale.console_tickets,
        repeats=scale.console_repeats,
    )
    runs = [measure(database_url=f"sqlite:///{scratch / 'console.db'}")]
    if args.postgres_url:
        schema = f"helploop_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            separator = "&" if "?" in args.postgres_url else "?"
            runs.append(
                measure(database_url=f"{args.postgres_url}{separator}options=-csearch_path%3D{schema}")
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return {"runs": runs}


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("bench", help="measure on this machine; JSON + Markdown under bench/results/")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--tickets", type=int, default=2000, help="backlog size for batched reclassification")
    p.add_argument("--single-tickets", type=int, default=500, help="tickets sent as one task each")
    p.add_argument("--threads", type=int, help="onnxruntime threads per worker (default: every core)")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("HELPLOOP_BENCH_POSTGRES_URL"),
        help="the console section also runs on this PostgreSQL (a schema of its own, dropped after; default: "
        "HELPLOOP_BENCH_POSTGRES_URL; SQLite always runs)",
    )
    p.add_argument("--registry", help="where the model to measure is active (default: the configured one)")
    p.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cuda: the GPU path (onnxruntime-gpu; fp16 instead of int8; bench/gpu.sh sets it)",
    )
    p.add_argument(
        "--other-registry",
        help="a registry whose active classifier is on the other base, measured beside the first "
        "(default: a demo classifier on the other base trained for the run, about two minutes)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="every section on tiny inputs in a few minutes: checks the bench runs, measures nothing "
        "worth reading (the test suite runs it)",
    )
    p.add_argument("--out", default="bench/results")
    p.set_defaults(handler=cmd_bench)
