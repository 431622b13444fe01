"""`helploop pii-eval`: recall and precision of PII redaction on the generated test set, and the false
positives per kind of look-alike (order numbers, dates, … and the product's own identifiers)."""

from __future__ import annotations

import argparse
import json
from functools import cache


def cmd_pii_eval(args: argparse.Namespace) -> int:
    from shared.pii import find_pii
    from shared.pii_testset import false_positives, generate, score

    examples = generate(args.examples, seed=args.seed)
    detect = cache(find_pii)  # both tallies read the same detections
    scores = score(examples, detect)
    rows: dict[str, dict[str, object]] = {
        kind: {"planted": s.planted, "found": s.found, "recall": round(s.recall, 4)}
        for kind, s in scores.items()
    }
    overall = scores["all"]
    rows["all"] |= {"detections": overall.detections, "precision": round(overall.precision, 4)}
    negatives = false_positives(examples, detect)
    rows["false_positives"] = {kind: f"{n.flagged}/{n.planted}" for kind, n in negatives.items()}
    print(json.dumps(rows, indent=2))
    flagged = {kind: n.flagged for kind, n in negatives.items() if n.flagged}
    met = overall.recall >= args.min_recall and overall.precision >= args.min_precision
    print(
        f"recall {overall.recall:.4f} (target {args.min_recall}), precision {overall.precision:.4f} "
        f"(target {args.min_precision}): {'met' if met else 'NOT met'}; "
        f"false positives by look-alike kind: {json.dumps(flagged) if flagged else 'none'}"
    )
    return 0 if met else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("pii-eval", help="measure PII redaction on a generated, labelled test set")
    p.add_argument("--examples", type=int, default=3000, help="messages to generate (default 3000)")
    p.add_argument("--seed", type=int, default=17, help="random seed of the generated set (default 17)")
    p.add_argument("--min-recall", type=float, default=0.99)
    p.add_argument("--min-precision", type=float, default=0.95)
    p.set_defaults(handler=cmd_pii_eval)
