"""`helploop train-generator` and `helploop evaluate-generator`."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from helploop.cli.dataclass_flags import given
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
    `bilingual` (both, interleaved so that any prefix mixes the two; the hold-outs stay per language).
    Replies as written: callers clean the training side (`learnable`), never the hold-out."""
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
    from services.trainer.generation.data import learnable, load_reply_file

    if args.base_only:
        return None
    if args.demo:
        return demo_examples(
            per_intent=args.per_intent, seed=DEMO_SEED, languages=_languages(args), followups=args.followups
        )
    examples = load_reply_file(Path(args.data)) if args.data else dataset_splits(args.dataset)[0]
    examples = examples if args.raw_replies else learnable(examples)
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
    options = given(args, GeneratorTrainConfig)
    if options.get("vocabulary_keep_top") == 0:  # 0: the whole vocabulary
        options["vocabulary_keep_top"] = None
    config = GeneratorTrainConfig(**options)
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
        min_new_tokens=args.min_new_tokens,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram=args.no_repeat_ngram,
    )
    generator = OnnxGenerator(registry.bundle_dir(version), version=version)
    resample = get_settings().draft_resample_attempts if args.resample is None else args.resample
    report = evaluate_history(generator=generator, followups=followups, config=config, resample=resample)
    write_history_report(report, Path(args.out))
    print((Path(args.out) / "report.md").read_text())
    return 0


def _evaluation_sets(args: argparse.Namespace) -> tuple[list[Any], list[Any], list[Any] | None]:
    """(training pool, hold-out, the pool's replies as written when they were cleaned)."""
    from services.trainer.generation.data import learnable

    if not args.demo:
        train, test = dataset_splits(args.dataset)
        return (train, test, None) if args.raw_replies else (learnable(train), test, train)
    # the demo shop: train on seed 31, hold out tickets generated with another seed
    languages = _languages(args)
    train = demo_examples(per_intent=args.per_intent, seed=DEMO_SEED, languages=languages)
    per_intent = max(2, (args.offset + args.limit) // (14 * len(languages)) + 1)
    test = demo_examples(per_intent=per_intent, seed=DEMO_HOLDOUT_SEED, languages=languages)
    if args.customer_name:
        test = [replace(e, customer_name=args.customer_name) for e in test]
    return train, test, None


def cmd_evaluate_generator(args: argparse.Namespace) -> int:
    from services.trainer.generation.evaluate import evaluate_generators, write_report
    from shared.registry import Registry
    from shared.runtime.generator import GenerationConfig, OnnxGenerator

    settings = get_settings()
    registry = Registry(settings.generator_registry_dir)
    if args.demo and args.followups:
        return _evaluate_followups(args, registry)
    train, test, raw_train = _evaluation_sets(args)
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
        min_new_tokens=args.min_new_tokens,
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
        candidates=settings.draft_candidates if args.candidates is None else args.candidates,
        raw_train=raw_train,
    )
    if args.speed and generators:
        report["speed"] = _speed(list(generators.values()), report["prompts"][:8])
    titles = {"bitext": "the Bitext hold-out", "stc3": "the STC-3 test dialogues (Chinese)"}
    title = "the demo shop's hold-out tickets" if args.demo else titles.get(args.dataset, args.dataset)
    write_report(report, Path(args.out), title=title)
    print(json.dumps(report["systems"], indent=2))
    return 0
