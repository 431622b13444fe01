"""`helploop benchmark NAME` (what `make eval` runs): prepare → train → evaluate → int8 → evaluate."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from services.trainer.base_model import BASE_MODELS, DEFAULT_BASE_MODEL
from services.trainer.datasets import DATASETS
from shared.settings import get_settings

RECIPES = Path(__file__).resolve().parents[2] / "services" / "trainer" / "recipes"


def _tfidf_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Per head: the TF-IDF baseline's accuracy/macro-F1 and the fine-tuned model minus it (or why not)."""
    tfidf = report.get("tfidf_baseline", {})
    if "unavailable" in tfidf:
        return {"unavailable": tfidf["unavailable"]}
    side = report.get("versus_baselines", {}).get("heads", {})
    return {
        name: {
            **{k: v for k, v in head.items() if k in ("accuracy", "macro_f1", "unavailable")},
            "fine_tuned_minus_tfidf": side.get(name, {}).get("fine_tuned_minus_tfidf"),
        }
        for name, head in tfidf.get("heads", {}).items()
    }


def baseline_only(config: Any, test_file: Path, out: Path) -> dict[str, Any]:
    """The TF-IDF baseline alone, on the split the recipe's training would use (seconds, no training)."""
    from services.trainer.baseline import run_baselines
    from services.trainer.data import load_examples
    from services.trainer.evaluate import example_languages

    test = load_examples(test_file, text_column=config.text_column, head_columns=config.head_columns)
    tfidf = run_baselines(
        config=config.to_json(),
        test=test,
        languages=example_languages(test),
        base_dir=None,
        max_length=config.max_length,
        centroid=False,
    )["tfidf_baseline"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "tfidf_baseline.json").write_text(json.dumps(tfidf, indent=2))
    return tfidf


def evaluate_long_tickets(registry: Any, version: str, test_file: Path) -> dict[str, Any]:
    """The test texts inside long messages, read by each policy (services/trainer/long_tickets.py)."""
    from services.trainer.data import load_examples
    from services.trainer.long_tickets import evaluate_long
    from shared.runtime.classifier import OnnxClassifier

    classifier = OnnxClassifier(registry.bundle_dir(version), version=version)
    columns = registry.manifest(version)["training_config"]["head_columns"]
    return evaluate_long(classifier, load_examples(test_file, head_columns=columns))


def parse_options(items: list[str]) -> dict[str, Any]:
    """`--option epochs=8 --option early_stopping_metric=macro_f1`: training options over the recipe's."""
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option takes KEY=VALUE (a training option), not {item!r}")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return options


def _shots(value: str) -> list[int]:
    try:
        shots = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shots takes sizes like 5,10, not {value!r}") from None
    if not shots or shots[0] < 2:
        raise argparse.ArgumentTypeError("--shots needs sizes of at least 2 examples per intent")
    return shots


def _intent_count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(
            f"--hold-out-intents takes a number of intents (1 or more), not {value!r}"
        )
    return int(value)


def few_shot(args: argparse.Namespace, config: Any, *, test_file: Path, registry: Any) -> int:
    """`--shots`: the accuracy-vs-examples-per-intent curve instead of the full benchmark."""
    from services.trainer.few_shot import run_curve

    out = Path(args.out) / args.name / "few_shot"
    curve = run_curve(
        config,
        name=args.name,
        shots=args.shots,
        test_file=test_file,
        registry=registry,
        out_dir=out,
        cache_dir=get_settings().cache_dir,
    )
    print(json.dumps(curve, indent=2))
    print(f"\nwritten: {out}/few_shot.json, few_shot.md, few_shot.png")
    return 0


def held_out_intents(args: argparse.Namespace, config: Any, *, test_file: Path, registry: Any) -> int:
    """`--hold-out-intents N`: train without N intents; how many of their tickets are caught as unknown."""
    from services.trainer.unknown_intents import run_held_out

    out = Path(args.out) / args.name / "unknown_intents"
    result = run_held_out(
        config,
        name=args.name,
        count=args.hold_out_intents,
        test_file=test_file,
        registry=registry,
        out_dir=out,
        cache_dir=get_settings().cache_dir,
    )
    print((out / "unknown_intents.md").read_text())
    print(f"written: {out}/unknown_intents.{{json,md,png}} (model {result['version']})")
    return 0


def _instead(args: argparse.Namespace, config: Any, *, test_file: Path, registry: Any) -> int:
    """The runs that replace the full benchmark: the baseline alone, the few-shot curve, held-out intents."""
    if args.baseline_only:
        print(json.dumps(baseline_only(config, test_file, Path(args.out) / args.name), indent=2))
        return 0
    if args.shots:
        return few_shot(args, config, test_file=test_file, registry=registry)
    return held_out_intents(args, config, test_file=test_file, registry=registry)


def _report_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of an evaluation report: per head, and the two baselines."""
    keys = ("accuracy", "macro_f1", "with_rejection", "ece", "oos")
    return {
        "heads": {
            h: {k: v for k, v in r.items() if k in keys} for h, r in report["model_eval"]["heads"].items()
        },
        "baseline": report.get("baseline", {}).get("heads"),
        "tfidf_baseline": _tfidf_summary(report),
    }


def cmd_benchmark(args: argparse.Namespace) -> int:
    from services.trainer.assessment import evaluate_wrapped, run_evaluation
    from services.trainer.config import TrainConfig
    from services.trainer.datasets import prepare
    from services.trainer.pipeline import run_training
    from services.trainer.quantize import quantize_bundle
    from shared.registry import Registry

    registry = Registry(Path(args.registry))
    splits = prepare(args.name, datasets_dir=get_settings().datasets_dir, out_dir=Path(args.data))
    overrides = {"base_model": args.base_model} if args.base_model else {}
    overrides |= parse_options(args.option or [])
    config = TrainConfig.from_file(
        RECIPES / f"{args.name}.yaml", train_file=splits["train"], valid_file=splits.get("valid"), **overrides
    )
    if args.baseline_only or args.shots or args.hold_out_intents:
        return _instead(args, config, test_file=splits["test"], registry=registry)
    started = time.perf_counter()
    cache_dir = get_settings().cache_dir
    trained = run_training(config, registry=registry, cache_dir=cache_dir)
    train_minutes = (time.perf_counter() - started) / 60
    base = registry.manifest(trained.version)["base_model"]["name"]  # `auto` resolved
    out = Path(args.out) / args.name / (args.tag or base)
    evaluation: dict[str, Any] = {"registry": registry, "test_file": splits["test"], "cache_dir": cache_dir}
    report = run_evaluation(model=trained.version, out_dir=out, **evaluation)
    email = evaluate_wrapped(registry=registry, model=trained.version, test_file=splits["test"])
    (out / "email.json").write_text(json.dumps(email, indent=2))
    long_tickets = evaluate_long_tickets(registry, trained.version, splits["test"])
    (out / "long_tickets.json").write_text(json.dumps(long_tickets, indent=2))
    int8 = quantize_bundle(registry, trained.version)
    int8_report = run_evaluation(model=int8, out_dir=out / "int8", baseline=False, **evaluation)
    summary = {
        "dataset": args.name,
        "base_model": base,
        "options": parse_options(args.option or []),
        "version": trained.version,
        "int8_version": int8,
        "train_minutes_wall": round(train_minutes, 1),
        **_report_summary(report),
        "email": email["accuracy"],  # plain texts vs the same texts wrapped in e-mail threads (email.json)
        "long_tickets": {k: v["accuracy"] for k, v in long_tickets["policies"].items()},  # long_tickets.json
        "int8_minus_fp32_accuracy": int8_report["comparison"]["accuracy_delta"],
        "vocabulary_trim": trained.metrics.get("vocabulary_trim"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("benchmark", help="train and evaluate on a public dataset (make eval)")
    p.add_argument("name", choices=DATASETS)
    p.add_argument(
        "--base-model", help=f"{' | '.join(BASE_MODELS)} (default: the recipe's, else {DEFAULT_BASE_MODEL})"
    )
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a training option over the recipe's (repeatable)",
    )
    p.add_argument("--tag", help="report sub-directory (default: the base model's name)")
    p.add_argument("--out", default="var/reports")
    p.add_argument("--data", default="var/data")
    p.add_argument("--registry", default="var/bench-models")
    p.add_argument(
        "--baseline-only",
        action="store_true",
        help="only the TF-IDF + linear SVM baseline on the recipe's training split (seconds; no training)",
    )
    p.add_argument(
        "--shots",
        type=_shots,
        metavar="K[,K…]",
        help="few labelled examples: train on K examples per intent (e.g. 5,10) with and without the "
        "contrastive stage, beside TF-IDF; writes few_shot.{json,md,png} (instead of the full benchmark)",
    )
    p.add_argument(
        "--hold-out-intents",
        type=_intent_count,
        metavar="N",
        help="requests without an intent: train without N intents (seeded), then measure how many of their "
        "test tickets each out-of-scope score catches at 2/5/10 %% false rejection of the others; writes "
        "unknown_intents.{json,md,png} (instead of the full benchmark)",
    )
    p.set_defaults(handler=cmd_benchmark)
