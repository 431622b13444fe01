"""`helploop train` and `helploop demo-data`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from helploop.cli.dataclass_flags import add_dataclass_flags, given
from services.trainer.datasets import DATASETS
from shared.settings import get_settings

# `helploop train`'s flags come from TrainConfig's fields (helploop/cli/dataclass_flags.py), except these:
FLAGS_BY_HAND = ("train_file", "head_columns")
RENAMED = {"valid_file": "valid"}  # --valid


def _head_columns(args: argparse.Namespace) -> dict[str, str] | None:
    if args.head:
        pairs = [item.split("=", 1) for item in args.head]
        if any(len(pair) != 2 or not all(pair) for pair in pairs):
            raise ValueError("--head takes NAME=COLUMN, e.g. --head intent=label --head sentiment=sentiment")
        return dict(pairs)  # type: ignore[arg-type]
    if args.label_column:
        return {"intent": args.label_column}
    return None


def build_config(args: argparse.Namespace) -> Any:
    from services.trainer.config import TrainConfig

    overrides: dict[str, Any] = given(args, TrainConfig, skip=FLAGS_BY_HAND)
    overrides["train_file"] = Path(args.train)
    if (heads := _head_columns(args)) is not None:
        overrides["head_columns"] = heads
    if "base_model" not in overrides and get_settings().base_encoder_dir is not None:
        overrides["base_model"] = str(get_settings().base_encoder_dir)
    if args.config:
        return TrainConfig.from_file(Path(args.config), **overrides)
    return TrainConfig(**overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from services.trainer.pipeline import run_training

    config = build_config(args)
    registry = _registry(args)
    precision, why = _precision(args.serve)
    int8 = precision == "int8"
    result = run_training(
        config, registry=registry, cache_dir=get_settings().cache_dir, activate=args.activate and not int8
    )
    served = _serve_int8(registry, config, result.version, activate=args.activate) if int8 else None
    if served is None and why:
        served = {"version": result.version, "reason": why}
    summary = {
        "version": result.version,
        "bundle": str(result.bundle_dir),
        "activated": result.activated or (served is not None and args.activate),
        "served": served,  # --serve int8: the version serving, both accuracies and why
        "validation": result.metrics["validation"],
        "train_seconds": result.metrics["train_seconds"],
        "few_shot": result.metrics["few_shot"],  # the contrastive stage: whether it ran, and why
    }
    print(json.dumps(summary, indent=2))
    return 0


def _precision(serve: str) -> tuple[str, str | None]:
    """`--serve`: fp32, int8, or auto — int8 (where its accuracy holds) unless onnxruntime here runs CUDA
    (`services.trainer.served.cuda_available`). (the precision to try, why auto chose float32)"""
    if serve != "auto":
        return serve, None
    from services.trainer.served import cuda_available

    if cuda_available():
        return "fp32", "auto: float32 serves (onnxruntime here runs CUDA; dynamic int8 runs on the CPU)"
    return "int8", None


def _serve_int8(registry: Any, config: Any, version: str, *, activate: bool) -> dict[str, Any]:
    """`--serve int8`: the int8 child where it keeps the accuracy on the validation split (else float32)."""
    from services.trainer.pipeline import load_splits
    from services.trainer.served import int8_where_it_holds

    choice = int8_where_it_holds(registry, version, load_splits(config)[1])
    if activate:
        registry.activate(choice.version)
    return {"version": choice.version, "accuracy": choice.accuracy, "reason": choice.reason}


def _registry(args: argparse.Namespace) -> Any:
    from shared.registry import Registry

    return Registry(Path(args.registry) if args.registry else get_settings().model_registry_dir)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from services.trainer.assessment import run_evaluation

    out = Path(args.out)
    report = run_evaluation(
        registry=_registry(args),
        model=args.model,
        test_file=Path(args.test),
        out_dir=out,
        head_columns=_head_columns(args),
        baseline=not args.no_baseline,
        compare=args.compare,
        tfidf_baseline=not args.no_tfidf_baseline,
        cache_dir=get_settings().cache_dir,
    )
    print((out / "report.md").read_text())
    print(f"report written to {out}/ (report.json, report.md, {len(report['plots'])} plots)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from services.trainer.optimize import fuse_bundle
    from services.trainer.quantize import quantize_bundle
    from shared.registry import Registry

    if not (args.fuse or args.quantize):
        raise SystemExit("export: give --fuse, --quantize int8|w8|w4|fp16, or both")
    if args.generator and args.fuse:
        raise SystemExit("export: --fuse applies to classifier bundles")
    if args.generator:
        registry, graph = Registry(get_settings().generator_registry_dir), "decoder.onnx"
    else:
        registry, graph = _registry(args), "model.onnx"
    version = args.model
    if args.fuse:
        version = fuse_bundle(registry, version, activate=args.activate and not args.quantize)
        print(f"published {version} (fused {args.model})")
    if args.quantize:
        parent = version
        version = quantize_bundle(registry, parent, mode=args.quantize, activate=args.activate, graph=graph)
        print(f"published {version} ({args.quantize} of {parent})")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from services.trainer import dataset_fetch
    from services.trainer.datasets import prepare

    configured = get_settings().datasets_dir
    if args.action == "list":
        print(dataset_fetch.describe(datasets_dir=Path(args.to) if args.to else configured))
        return 0
    if args.action == "fetch":  # a FetchError's message (offline, sha256 mismatch) says what to do
        to = Path(args.to) if args.to else configured
        names = list(DATASETS) if "all" in args.names else list(dict.fromkeys(args.names))
        for name in names:
            fetched = dataset_fetch.fetch(
                name, datasets_dir=to, mirror=args.mirror, force=args.force, timeout=args.timeout
            )
            print(fetched.summary)
        print("next:\n" + dataset_fetch.next_command(names, datasets_dir=to, configured=configured))
        return 0
    splits = prepare(args.name, datasets_dir=configured, out_dir=Path(args.out))
    print(json.dumps({k: str(v) for k, v in splits.items()}, indent=2))
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from services.trainer.demo_data import write_dataset
    from services.trainer.demo_realism import Realism

    languages = tuple(part.strip() for part in args.languages.split(",") if part.strip())
    realism = None if args.templated else Realism()
    count = write_dataset(
        Path(args.out), per_intent=args.per_intent, seed=args.seed, languages=languages, realism=realism
    )
    print(f"wrote {count} demo tickets to {args.out}" + (" (templated)" if args.templated else ""))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _register_train(commands)
    p = commands.add_parser("evaluate", help="evaluate a model on a labelled test file; write a report dir")
    p.add_argument("--model", default="active", help="a version, or 'active'")
    p.add_argument("--test", required=True, help="CSV or JSONL with the training file's columns")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--label-column", help="the intent label column (default: as in training)")
    p.add_argument("--head", action="append", metavar="NAME=COLUMN")
    p.add_argument("--compare", help="another version to evaluate on the same data (default: the parent)")
    p.add_argument("--no-baseline", action="store_true", help="skip the zero-shot centroid baseline")
    p.add_argument(
        "--no-tfidf-baseline",
        action="store_true",
        help="skip the TF-IDF + linear SVM baseline (trained in seconds on the model's training split)",
    )
    p.add_argument("--registry")
    p.set_defaults(handler=cmd_evaluate)
    p = commands.add_parser("export", help="derive a fused and/or int8 bundle from a registered model")
    p.add_argument("--model", default="active", help="a version, or 'active'")
    p.add_argument("--fuse", action="store_true", help="onnxruntime transformer fusions (classifiers)")
    p.add_argument(
        "--quantize",
        choices=["int8", "w8", "w4", "fp16"],
        help="int8: dynamic int8 quantization, for CPUs; w8: int8 weights in blocks of 32 (generators: a "
        "quarter of the weight memory, closer to float32 than int8); w4: 4-bit blocks (an eighth); fp16: "
        "half precision, for GPUs (after --fuse)",
    )
    p.add_argument(
        "--generator", action="store_true", help="a reply-generator version instead of a classifier"
    )
    p.add_argument("--activate", action="store_true")
    p.add_argument("--registry")
    p.set_defaults(handler=cmd_export)
    _register_datasets(commands)
    _register_demo_data(commands)


def _register_demo_data(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser(
        "demo-data",
        help="write the seeded demo-shop ticket dataset",
        description="Seeded demo-shop tickets as a real inbox holds them: besides greetings, typos and "
        "asides, 15% are e-mail threads quoting an earlier, different request, 8% carry two requests "
        "(labelled with either, as agents file them) and 3% are vague. --templated writes the clean "
        "templates only.",
    )
    p.add_argument("--out", required=True, help="output .csv or .jsonl")
    p.add_argument("--per-intent", type=int, default=80)
    p.add_argument(
        "--languages",
        default="en",
        help="comma-separated: en, zh or en,zh (Chinese tickets written for the demo shop)",
    )
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--templated", action="store_true", help="the clean templates only (no threads, two-request or vague)"
    )
    p.set_defaults(handler=cmd_demo_data)


def _register_train(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from services.trainer.config import TrainConfig

    p = commands.add_parser(
        "train",
        help="fine-tune the encoder on labelled tickets and export to ONNX",
        description="Fine-tune a base encoder (one classification head per label column), calibrate it, "
        "export it to ONNX with a parity check and publish it to the registry. Every training option "
        "below is also a key of --config (YAML or JSON, the field names with underscores); a flag given "
        "here wins over the file, an option given nowhere takes its default or the base model's recipe.",
    )
    p.add_argument("--train", required=True, help="CSV or JSONL with a text column and label column(s)")
    p.add_argument("--config", help="training options as YAML or JSON; flags given here win")
    p.add_argument("--label-column", help="the intent label column (default: label)")
    p.add_argument(
        "--head",
        action="append",
        metavar="NAME=COLUMN",
        help="one classification head per label column, e.g. --head intent=label --head sentiment=mood",
    )
    p.add_argument("--activate", action="store_true", help="make the new version the active model")
    p.add_argument(
        "--serve",
        choices=["auto", "fp32", "int8"],
        default="auto",
        help="int8: also publish the dynamic-int8 child and serve it (with --activate) where its accuracy "
        "on the validation split is within 0.5 pt of float32 (2.9 ms less worker CPU per ticket), else "
        "float32; the nightly retrain keeps serving int8. auto (default): as int8 where onnxruntime here "
        "has no CUDA, else as fp32. fp32: the float32 model only",
    )
    p.add_argument("--registry", help="registry dir (default: HELPLOOP_MODEL_REGISTRY_DIR)")
    add_dataclass_flags(
        p.add_argument_group("training options"), TrainConfig, skip=FLAGS_BY_HAND, renamed=RENAMED
    )
    p.set_defaults(handler=cmd_train)


def _register_datasets(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser(
        "datasets",
        help="public benchmark datasets: fetch them from their origin, list them, convert them to JSONL",
        description="The public sets `helploop benchmark` and `make eval` read from HELPLOOP_DATASETS_DIR. "
        "Online, `fetch` downloads them from their origin (a pinned commit, every file's sha256 checked); "
        "offline, copy the folders there instead.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("prepare", help="convert NAME from HELPLOOP_DATASETS_DIR to JSONL splits")
    q.add_argument("name", choices=DATASETS)
    q.add_argument("--out", default="var/data", help="writes <out>/<name>/{train,valid,test}.jsonl")
    q = actions.add_parser(
        "fetch",
        help="download NAME from its origin (pinned commit and sha256) into HELPLOOP_DATASETS_DIR",
        description="Download each file from raw.githubusercontent.com at the pinned commit, check its "
        "sha256, and move it into <dir>/<folder> with a SOURCE.md (origin, commit, licence); CAIS is "
        "rebuilt into train/valid/test.csv and checked again. Files already there that verify are left "
        "alone. A mismatch or a network failure changes nothing.",
        epilog="then: helploop benchmark NAME (or make eval); helploop datasets list shows what is there",
    )
    q.add_argument(
        "names", nargs="+", choices=(*DATASETS, "all"), metavar="NAME", help=f"{', '.join(DATASETS)} or all"
    )
    q.add_argument("--to", metavar="DIR", help="the datasets dir to fill (default: HELPLOOP_DATASETS_DIR)")
    q.add_argument(
        "--mirror",
        metavar="URL",
        help="a base URL replacing https://raw.githubusercontent.com (a proxy mirror with the same "
        "<owner>/<repo>/<commit>/<path> layout)",
    )
    q.add_argument("--force", action="store_true", help="download again even when the files verify")
    q.add_argument("--timeout", type=float, default=30.0, help="seconds per connection or read (default: 30)")
    q = actions.add_parser(
        "list", help="each public dataset: whether it is in the datasets dir and verified, licence, origin"
    )
    q.add_argument(
        "--dir", dest="to", metavar="DIR", help="the datasets dir to check (default: HELPLOOP_DATASETS_DIR)"
    )
    p.set_defaults(handler=cmd_datasets)
