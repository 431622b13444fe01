"""What the realistic demo inbox changes, measured: one classifier trained on the templated demo tickets and
one on the realistic ones (`demo_realism`), both tested on held-out templated and realistic tickets —
accuracy, expected calibration error, how often the model is above 0.99, and a mixed message in English and
Chinese. Writes `demo_realism.json` and `demo_realism.md`.

    python -m services.trainer.demo_realism_eval --out var/reports/demo_realism
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.demo_data import DemoTicket, generate_tickets, write_dataset
from services.trainer.demo_realism import Realism
from shared.runtime.scoring import expected_calibration_error
from shared.tickets.normalise import model_text

LANGUAGES = ("en", "zh")
MIXED = (
    "my parcel never arrived and it's been two weeks, I want a refund",
    "我的包裹还没到，已经两周了，我要退款",
)
RECIPE = {"epochs": 2, "max_steps": 90, "batch_size": 16, "max_length": 96, "learning_rate": 2e-4}


def scores(classifier: Any, tickets: list[DemoTicket]) -> dict[str, float]:
    """Accuracy of the top intent (before the out-of-scope rule), ECE (15 bins) and the share of top
    probabilities above 0.99 on `tickets`."""
    labels = classifier.heads[0].labels
    predictions = classifier.predict([model_text(t.text) for t in tickets], top_k=len(labels))
    probabilities = np.zeros((len(tickets), len(labels)))
    for row, prediction in enumerate(predictions):
        for label, probability in prediction.primary.top_k:
            probabilities[row, labels.index(label)] = probability
    gold = np.array([labels.index(t.label) for t in tickets])
    top = probabilities.max(axis=1)
    return {
        "accuracy": round(float((probabilities.argmax(axis=1) == gold).mean()), 4),
        "ece": round(expected_calibration_error(probabilities, gold), 4),
        "over_0_99": round(float((top > 0.99).mean()), 4),
    }


def train_on(kind: str, directory: Path, *, per_intent: int, cache_dir: Path) -> Any:
    from services.trainer.config import TrainConfig
    from services.trainer.pipeline import run_training
    from shared.registry import Registry
    from shared.runtime.classifier import OnnxClassifier

    data = directory / kind / "train.csv"
    realism = Realism() if kind == "realistic" else None
    write_dataset(data, per_intent=per_intent, seed=7, languages=LANGUAGES, realism=realism)
    registry = Registry(directory / kind / "models")
    run_training(
        TrainConfig(train_file=data, **RECIPE), registry=registry, cache_dir=cache_dir, activate=True
    )
    version = registry.active_version()
    return OnnxClassifier(registry.bundle_dir(version), version=version)


def measure(out: Path, *, per_intent: int, test_per_intent: int, cache_dir: Path) -> dict[str, Any]:
    tests = {
        kind: generate_tickets(
            per_intent=test_per_intent, seed=99, languages=LANGUAGES, realism=Realism() if real else None
        )
        for kind, real in (("templated", False), ("realistic", True))
    }
    result: dict[str, Any] = {
        "recipe": {"base": "auto (multilingual-e5-small)", "per_intent": per_intent, **RECIPE}
    }
    for kind in tests:
        classifier = train_on(kind, out, per_intent=per_intent, cache_dir=cache_dir)
        row: dict[str, Any] = {name: scores(classifier, tickets) for name, tickets in tests.items()}
        mixed = classifier.predict(list(MIXED), top_k=2)
        row["mixed"] = [[(label, round(p, 3)) for label, p in m.primary.top_k] for m in mixed]
        result[f"trained_on_{kind}"] = row
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| trained on | templated test: acc | realistic test: acc | realistic: ECE | realistic: > 0.99 "
        "| mixed (en) | mixed (zh) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("templated", "realistic"):
        row = result[f"trained_on_{kind}"]
        real = row["realistic"]
        mixed = [", ".join(f"{label} {p:.3f}" for label, p in top) for top in row["mixed"]]
        lines.append(
            f"| {kind} | {row['templated']['accuracy']:.1%} | {real['accuracy']:.1%} | {real['ece']:.3f} "
            f"| {real['over_0_99']:.1%} | {mixed[0]} | {mixed[1]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("var/reports/demo_realism"), help="report directory")
    parser.add_argument("--per-intent", type=int, default=40, help="training tickets per intent and language")
    parser.add_argument(
        "--test-per-intent", type=int, default=30, help="test tickets per intent and language"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("var/cache"), help="converted base models")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = measure(
        args.out, per_intent=args.per_intent, test_per_intent=args.test_per_intent, cache_dir=args.cache_dir
    )
    (args.out / "demo_realism.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    (args.out / "demo_realism.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
