"""`helploop pii-eval`: recall and precision of PII redaction on the generated test sets (English and
Chinese, `--language`), and the false positives per kind of look-alike (order numbers, dates, … and the
product's own identifiers)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.pii_testset import Example

LANGUAGES = ("en", "zh")


def _language_set(language: str) -> tuple[Callable[..., list[Example]], Iterable[str], Iterable[str]]:
    """The generator of `language`'s set, its planted kinds and its look-alike kinds."""
    if language == "zh":
        from shared.pii_testset_zh import GENERATORS_ZH, NEGATIVES_ZH, generate_zh

        return generate_zh, GENERATORS_ZH, NEGATIVES_ZH
    from shared.pii_testset import GENERATORS, NEGATIVES, generate

    return generate, GENERATORS, NEGATIVES


def _evaluate(language: str, args: argparse.Namespace) -> tuple[dict[str, Any], str, bool]:
    """The table of one language's set, its summary line, and whether it meets the targets."""
    from shared.pii import find_pii
    from shared.pii_testset import false_positives, score

    generate, kinds, negative_kinds = _language_set(language)
    examples = generate(args.examples, seed=args.seed)
    detect = cache(find_pii)  # both tallies read the same detections
    scores = score(examples, detect, kinds=kinds)
    rows: dict[str, Any] = {
        kind: {"planted": s.planted, "found": s.found, "recall": round(s.recall, 4)}
        for kind, s in scores.items()
    }
    overall = scores["all"]
    rows["all"] |= {"detections": overall.detections, "precision": round(overall.precision, 4)}
    negatives = false_positives(examples, detect, kinds=negative_kinds)
    rows["false_positives"] = {kind: f"{n.flagged}/{n.planted}" for kind, n in negatives.items()}
    flagged = {kind: n.flagged for kind, n in negatives.items() if n.flagged}
    met = overall.recall >= args.min_recall and overall.precision >= args.min_precision
    summary = (
        f"{language}: recall {overall.recall:.4f} (target {args.min_recall}), "
        f"precision {overall.precision:.4f} (target {args.min_precision}): {'met' if met else 'NOT met'}; "
        f"false positives by look-alike kind: {json.dumps(flagged) if flagged else 'none'}"
    )
    return rows, summary, met


def cmd_pii_eval(args: argparse.Namespace) -> int:
    languages = LANGUAGES if args.language == "all" else (args.language,)
    results = {language: _evaluate(language, args) for language in languages}
    tables = {language: rows for language, (rows, _, _) in results.items()}
    print(json.dumps(tables if len(languages) > 1 else tables[languages[0]], indent=2, ensure_ascii=False))
    for _, summary, _ in results.values():
        print(summary)
    return 0 if all(met for _, _, met in results.values()) else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("pii-eval", help="measure PII redaction on a generated, labelled test set")
    p.add_argument(
        "--language",
        choices=[*LANGUAGES, "all"],
        default="all",
        help="the English set, the Chinese set, or both (default all: one table and one line each)",
    )
    p.add_argument("--examples", type=int, default=3000, help="messages per language (default 3000)")
    p.add_argument("--seed", type=int, default=17, help="random seed of the generated set (default 17)")
    p.add_argument("--min-recall", type=float, default=0.99)
    p.add_argument("--min-precision", type=float, default=0.95)
    p.set_defaults(handler=cmd_pii_eval)
