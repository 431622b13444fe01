"""`helploop guardrails-eval`: recall per reason of the draft guardrails on planted faults, and their
false-flag rate on clean drafts, on a generated set plus hand-written items (English and Chinese)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh")


def _evaluate(language: str, args: argparse.Namespace) -> tuple[dict[str, Any], str, bool, list[Any]]:
    from services.trainer.safety.evaluate import score
    from services.trainer.safety.testset import HOLDOUTS, REASONS, generate, handwritten

    items = [*generate(args.examples, seed=args.seed, language=language), *handwritten(language)]
    result = score(items)
    table = result.table()
    table["items"] = len(items)
    # reported beside the targets, not part of them (docs/drafts.md): the first blind set was measured once,
    # then its generalising misses fixed; the second was written afterwards and has never been tuned on
    holdouts = {name: score(handwritten(language, path=path)) for name, path in HOLDOUTS.items()}
    for name, holdout in holdouts.items():
        table[name] = holdout.table()
    low = [r for r in REASONS if result.planted[r] and result.recall(r) < args.min_recall]
    met = not low and result.false_flag_rate <= args.max_false_flag
    summary = (
        f"{language}: {len(items)} drafts; recall per reason "
        + ", ".join(f"{r} {result.recall(r):.3f}" for r in REASONS if result.planted[r])
        + f" (target {args.min_recall}); false-flag rate {result.false_flag_rate:.3f} on {result.clean} clean"
        f" drafts (target ≤ {args.max_false_flag}): {'met' if met else 'NOT met'}"
        + "".join(
            f"\n{language} {name} (hand-written without seeing the detectors): caught "
            f"{sum(h.caught.values())}/{sum(h.planted.values())} planted faults, "
            f"{h.clean_flagged}/{h.clean} clean drafts flagged"
            for name, h in holdouts.items()
        )
    )
    misses = [*result.misses, *(m for h in holdouts.values() for m in h.misses)]
    return table, summary, met, misses


def cmd_guardrails_eval(args: argparse.Namespace) -> int:
    languages = LANGUAGES if args.language == "all" else (args.language,)
    results = {language: _evaluate(language, args) for language in languages}
    tables = {language: table for language, (table, _, _, _) in results.items()}
    print(json.dumps(tables, indent=2, ensure_ascii=False))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "guardrails_eval.json").write_text(json.dumps(tables, indent=2, ensure_ascii=False))
        misses = {language: result[3] for language, result in results.items()}
        (out / "misses.json").write_text(json.dumps(misses, indent=2, ensure_ascii=False))
        print(f"written to {out / 'guardrails_eval.json'} (misses and false flags: {out / 'misses.json'})")
    for _, summary, _, _ in results.values():
        print(summary)
    return 0 if all(met for _, _, met, _ in results.values()) else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser(
        "guardrails-eval",
        help="measure the draft guardrails: recall per reason on planted faults, false flags on clean drafts",
        description="Builds a labelled draft-safety set — the demo shop's clean agent replies with one "
        "planted fault each (placeholder, deflection, unsupported promise/refusal, contradicted figure, "
        "invented "
        "fact, repeated personal data, wrong language) plus hand-written items — runs every draft through "
        "the guardrails and prints recall per reason and the false-flag rate on clean drafts. Exit 1 when "
        "a target is missed.",
    )
    p.add_argument("--language", choices=[*LANGUAGES, "all"], default="all")
    p.add_argument("--examples", type=int, default=600, help="generated drafts per language (default 600)")
    p.add_argument("--seed", type=int, default=23, help="random seed of the generated set (default 23)")
    p.add_argument("--min-recall", type=float, default=0.99, help="target recall per reason (default 0.99)")
    p.add_argument("--max-false-flag", type=float, default=0.05, help="target false-flag rate (default 0.05)")
    p.add_argument("--out", default="var/reports/guardrails", help="where the JSON report and misses go")
    p.set_defaults(handler=cmd_guardrails_eval)
