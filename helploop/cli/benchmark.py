"""`helploop benchmark NAME` (what `make eval` runs): prepare → train → evaluate → int8 → evaluate."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from shared.settings import get_settings

RECIPES = Path(__file__).resolve().parents[2] / "services" / "trainer" / "recipes"


def cmd_benchmark(args: argparse.Namespace) -> int:
    from services.trainer.assessment import run_evaluation
    from services.trainer.config import TrainConfig
    from services.trainer.datasets import prepare
    from services.trainer.pipeline import run_training
    from services.trainer.quantize import quantize_bundle
    from shared.registry import Registry

    registry = Registry(Path(args.registry))
    splits = prepare(args.name, datasets_dir=get_settings().datasets_dir, out_dir=Path(args.data))
    config = TrainConfig.from_file(
        RECIPES / f"{args.name}.yaml", train_file=splits["train"], valid_file=splits.get("valid")
    )
    started = time.perf_counter()
    trained = run_training(config, registry=registry)
    train_minutes = (time.perf_counter() - started) / 60
    out = Path(args.out) / args.name
    report = run_evaluation(registry=registry, model=trained.version, test_file=splits["test"], out_dir=out)
    int8 = quantize_bundle(registry, trained.version)
    int8_report = run_evaluation(
        registry=registry, model=int8, test_file=splits["test"], out_dir=out / "int8", baseline=False
    )
    summary = {
        "dataset": args.name,
        "version": trained.version,
        "int8_version": int8,
        "train_minutes_wall": round(train_minutes, 1),
        "heads": {
            h: {k: v for k, v in r.items() if k in ("accuracy", "macro_f1", "with_rejection", "ece", "oos")}
            for h, r in report["model_eval"]["heads"].items()
        },
        "baseline": report.get("baseline", {}).get("heads"),
        "int8_minus_fp32_accuracy": int8_report["comparison"]["accuracy_delta"],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("benchmark", help="train and evaluate on a public dataset (make eval)")
    p.add_argument("name", choices=["banking77", "clinc150"])
    p.add_argument("--out", default="var/reports")
    p.add_argument("--data", default="var/data")
    p.add_argument("--registry", default="var/bench-models")
    p.set_defaults(handler=cmd_benchmark)
