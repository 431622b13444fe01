"""`helploop train` and `helploop demo-data`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.settings import get_settings


def cmd_train(args: argparse.Namespace) -> int:
    from services.trainer.config import TrainConfig
    from services.trainer.pipeline import run_training
    from shared.registry import Registry

    config = TrainConfig(
        train_file=Path(args.train),
        valid_file=Path(args.valid) if args.valid else None,
        text_column=args.text_column,
        label_column=args.label_column,
        base_model_dir=Path(args.base_model) if args.base_model else get_settings().base_encoder_dir,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        seed=args.seed,
    )
    registry = Registry(Path(args.registry) if args.registry else get_settings().model_registry_dir)
    result = run_training(config, registry=registry, activate=args.activate)
    summary = {
        "version": result.version,
        "bundle": str(result.bundle_dir),
        "activated": result.activated,
        "validation": result.metrics["validation"],
        "train_seconds": result.metrics["train_seconds"],
    }
    print(json.dumps(summary, indent=2))
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from services.trainer.demo_data import write_dataset

    count = write_dataset(Path(args.out), per_intent=args.per_intent, seed=args.seed)
    print(f"wrote {count} demo tickets to {args.out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("train", help="fine-tune the encoder on labelled tickets and export to ONNX")
    p.add_argument("--train", required=True, help="CSV or JSONL with text and label columns")
    p.add_argument("--valid", help="validation file (default: stratified split of --train)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--activate", action="store_true", help="make the new version the active model")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--base-model", help="a local Hugging Face model dir (default: the pinned MiniLM package)")
    p.add_argument("--registry", help="registry dir (default: HELPLOOP_MODEL_REGISTRY_DIR)")
    p.set_defaults(handler=cmd_train)
    p = commands.add_parser("demo-data", help="write the seeded demo-shop ticket dataset")
    p.add_argument("--out", required=True, help="output .csv or .jsonl")
    p.add_argument("--per-intent", type=int, default=80)
    p.add_argument("--seed", type=int, default=13)
    p.set_defaults(handler=cmd_demo_data)
