"""`helploop pii-eval`: recall and precision of PII redaction on the generated test set."""

from __future__ import annotations

import argparse
import json


def cmd_pii_eval(args: argparse.Namespace) -> int:
    from shared.pii_testset import generate, score

    scores = score(generate(args.examples, seed=args.seed))
    rows = {
        kind: {"planted": s.planted, "found": s.found, "recall": round(s.recall, 4)}
        for kind, s in scores.items()
    }
    overall = scores["all"]
    rows["all"] |= {"detections": overall.detections, "precision": round(overall.precision, 4)}
    print(json.dumps(rows, indent=2))
    met = overall.recall >= args.min_recall and overall.precision >= args.min_precision
    print(
        f"recall {overall.recall:.4f} (target {args.min_recall}), precision {overall.precision:.4f} "
        f"(target {args.min_precision}): {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("pii-eval", help="measure PII redaction on a generated, labelled test set")
    p.add_argument("--examples", type=int, default=3000)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--min-recall", type=float, default=0.99)
    p.add_argument("--min-precision", type=float, default=0.95)
    p.set_defaults(handler=cmd_pii_eval)
