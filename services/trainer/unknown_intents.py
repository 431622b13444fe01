"""`helploop benchmark NAME --hold-out-intents N`: requests the team has no intent for, asked in the domain's
own words — how many does the out-of-scope rule catch, and at what cost to the tickets it knows?

CLINC150's out-of-scope queries are off-topic ("what is the capital of Peru") and easy to tell apart. The
hard case for a helpdesk is an in-domain request without an intent: a bank's customer asking about
something the bank's label set lacks. N intents are drawn (seeded) and removed from training and
validation; the model is trained on the rest with the dataset's recipe; on the test split the held-out
intents' texts are the unknown requests and the others the known ones. Every in-scope score the product
can use (the calibrated top probability, the energy score, the Mahalanobis distance to the nearest intent
and the cosine to the nearest training tickets) is thresholded on the *validation* tickets at a false
rejection rate of 2, 5 and 10 %, then measured on test: recall of the unknown requests, the known ones
rejected, the known ones answered correctly. The product's own rule (what the bundle ships) is reported
beside them. Written as JSON, Markdown and a plot (recall against false rejection, one line per score).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.config import TrainConfig
from services.trainer.data import Example, _rows
from shared.registry import Registry
from shared.runtime.ood import ClassGaussians, fit_class_gaussians
from shared.runtime.scoring import in_scope_score

log = logging.getLogger(__name__)
RATES = (0.02, 0.05, 0.10)  # false rejection of known tickets, chosen on validation


def choose_held_out(train_file: Path, *, label_column: str, count: int, seed: int) -> list[str]:
    labels = sorted({str(r.get(label_column) or "").strip() for r in _rows(train_file)} - {""})
    if not 0 < count < len(labels) - 1:
        raise ValueError(f"--hold-out-intents takes 1 to {len(labels) - 2} of {len(labels)} intents")
    return sorted(random.Random(seed).sample(labels, count))


def write_without(source: Path, out: Path, *, held_out: list[str], label_column: str) -> Path:
    """`source`'s rows whose label is not held out, as JSONL."""
    rows = [r for r in _rows(source) if str(r.get(label_column) or "").strip() not in held_out]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


def _embed(classifier: Any, examples: list[Example], head: str) -> tuple[np.ndarray, np.ndarray]:
    """Primary-head logits and pooled embeddings, 64 texts per run."""
    texts = [e.text for e in examples]
    parts = [classifier.forward(texts[i : i + 64], with_embedding=True) for i in range(0, len(texts), 64)]
    return (
        np.concatenate([p.logits[head] for p in parts]),
        np.concatenate([p.embedding for p in parts]).astype(np.float32),
    )


def nearest_cosine(reference: np.ndarray, embeddings: np.ndarray, k: int = 1) -> np.ndarray:
    """Cosine similarity to the k-th nearest reference embedding (Sun et al., 2022): higher = in scope."""
    ref = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    x = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarities = x @ ref.T
    return -np.partition(-similarities, k - 1, axis=1)[:, k - 1]


@dataclass(frozen=True)
class Reference:
    """The known intents' training tickets in embedding space: themselves, and their class Gaussians."""

    embeddings: np.ndarray
    gaussians: ClassGaussians


def scores_by_method(
    spec: Any, *, reference: Reference, logits: np.ndarray, embeddings: np.ndarray
) -> dict[str, np.ndarray]:
    """Every in-scope score for one set of tickets (higher = more in scope)."""
    scores = {
        m: in_scope_score(logits, method=m, temperature=spec.temperature) for m in ("max_prob", "energy")
    }
    scores["mahalanobis"] = reference.gaussians.score(embeddings)
    scores["nearest_ticket_cosine"] = nearest_cosine(reference.embeddings, embeddings)
    scores["nearest_10_cosine"] = nearest_cosine(reference.embeddings, embeddings, k=10)
    return scores


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """Probability that a known ticket scores above an unknown one (ties count half)."""
    from sklearn.metrics import roc_auc_score

    is_known = np.concatenate([np.ones(len(known)), np.zeros(len(unknown))])
    return float(roc_auc_score(is_known, np.concatenate([known, unknown])))


def operating_points(
    valid: np.ndarray, known: np.ndarray, unknown: np.ndarray, correct: np.ndarray
) -> list[dict[str, float]]:
    """At each validation false-rejection rate: the threshold, and what it does on test."""
    points = []
    for rate in RATES:
        threshold = float(np.quantile(valid, rate))
        answered = known >= threshold
        points.append(
            {
                "valid_false_rejection": rate,
                "threshold": threshold,
                "false_rejection": round(float((~answered).mean()), 4),
                "unknown_recall": round(float((unknown < threshold).mean()), 4),
                "known_accuracy": round(float((answered & correct).mean()), 4),
            }
        )
    return points


def _known(examples: list[Example], head: str, excluded: set[str]) -> list[Example]:
    return [e for e in examples if e.labels.get(head) and e.labels[head] not in excluded]


def _product_rule(classifier: Any, logits: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Which tickets the bundle's own rule sets aside (as the worker decides)."""
    from shared.runtime.classifier import Forward, predict_head

    spec = classifier.heads[0]
    scores = classifier.reject_scores(Forward({spec.name: logits}, embeddings)).get(spec.name)
    return np.array([p.out_of_scope for p in predict_head(spec, logits, 1, scores=scores)])


def _by_method(scores: dict[str, dict[str, np.ndarray]], correct: np.ndarray) -> dict[str, Any]:
    """AUROC and the validation-chosen operating points of every score."""
    return {
        method: {
            "auroc": round(auroc(scores["known"][method], scores["unknown"][method]), 4),
            "points": operating_points(
                scores["valid"][method], scores["known"][method], scores["unknown"][method], correct
            ),
        }
        for method in scores["valid"]
    }


def assess(
    classifier: Any, config: TrainConfig, *, held_out: list[str], test: list[Example]
) -> dict[str, Any]:
    """Score every method on the trainer's own validation split and on test (known vs held-out intents)."""
    from services.trainer.pipeline import load_splits

    head, spec = config.primary_head, classifier.heads[0]
    excluded = set(held_out) | {config.oos_label}
    train, valid = (_known(part, head, excluded) for part in load_splits(config))
    known = _known(test, head, excluded)
    unknown = [e for e in test if e.labels.get(head) in held_out]
    _, train_embeddings = _embed(classifier, train, head)
    reference = Reference(
        train_embeddings,
        fit_class_gaussians(train_embeddings, np.array([spec.labels.index(e.labels[head]) for e in train])),
    )
    outputs = {
        name: _embed(classifier, part, head)
        for name, part in (("valid", valid), ("known", known), ("unknown", unknown))
    }
    scores = {
        name: scores_by_method(spec, reference=reference, logits=lg, embeddings=em)
        for name, (lg, em) in outputs.items()
    }
    gold = np.array([spec.labels.index(e.labels[head]) for e in known])
    correct = outputs["known"][0].argmax(axis=1) == gold
    methods = _by_method(scores, correct)
    rejected_known = _product_rule(classifier, *outputs["known"])
    return {
        "held_out": held_out,
        "counts": {
            "train": len(train),
            "valid": len(valid),
            "known_test": len(known),
            "unknown_test": len(unknown),
        },
        "known_accuracy_without_rejection": round(float(correct.mean()), 4),
        "methods": methods,
        "product_rule": {
            "method": spec.reject_method,
            "threshold": spec.reject_threshold,
            "false_rejection": round(float(rejected_known.mean()), 4),
            "unknown_recall": round(float(_product_rule(classifier, *outputs["unknown"]).mean()), 4),
            "known_accuracy": round(float((correct & ~rejected_known).mean()), 4),
        },
        "curves": {m: curve(scores["known"][m], scores["unknown"][m]) for m in methods},
    }


def curve(known: np.ndarray, unknown: np.ndarray, steps: int = 41) -> list[tuple[float, float]]:
    """Test's (false rejection, unknown recall) as the threshold sweeps the known scores' 0–40 % quantiles."""
    rates = np.linspace(0.0, 0.4, steps)
    return [(round(float(r), 3), round(float((unknown < np.quantile(known, r)).mean()), 4)) for r in rates]


def run_held_out(
    config: TrainConfig,
    *,
    name: str,
    count: int,
    test_file: Path,
    registry: Registry,
    out_dir: Path,
    cache_dir: Path,
    seed: int = 7,
) -> dict[str, Any]:
    """Train without `count` intents, assess; writes unknown_intents.{json,md,png} under `out_dir`."""
    from services.trainer.data import load_examples
    from services.trainer.pipeline import run_training
    from shared.runtime.classifier import OnnxClassifier

    column = config.head_columns[config.primary_head]
    held = choose_held_out(config.train_file, label_column=column, count=count, seed=seed)
    log.info("holding out %d intents: %s", count, ", ".join(held))
    files = {
        split: write_without(path, out_dir / f"{split}_known.jsonl", held_out=held, label_column=column)
        for split, path in (("train", config.train_file), ("valid", config.valid_file))
        if path is not None
    }
    known_config = replace(config, train_file=files["train"], valid_file=files.get("valid"))
    trained = run_training(known_config, registry=registry, cache_dir=cache_dir)
    classifier = OnnxClassifier(registry.bundle_dir(trained.version), version=trained.version)
    test = load_examples(test_file, text_column=config.text_column, head_columns=config.head_columns)
    result = {
        "dataset": name,
        "seed": seed,
        "version": trained.version,
        **assess(classifier, known_config, held_out=held, test=test),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "unknown_intents.json").write_text(json.dumps(result, indent=2))
    (out_dir / "unknown_intents.md").write_text(markdown(result))
    plot(result, out_dir / "unknown_intents.png")
    return result


def markdown(result: dict[str, Any]) -> str:
    counts, rule = result["counts"], result["product_rule"]
    lines = [
        f"# Requests without an intent: {result['dataset']}, {len(result['held_out'])} intents held out "
        f"(seed {result['seed']})",
        "",
        f"Held out: {', '.join(result['held_out'])}. Test: {counts['known_test']} known tickets, "
        f"{counts['unknown_test']} unknown. Known accuracy without rejection: "
        f"{result['known_accuracy_without_rejection']:.2%}.",
        "",
        "| score | AUROC | "
        + " | ".join(f"at {r:.0%} on validation: unknown caught / known rejected" for r in RATES)
        + " |",
        "|---|---|" + "---|" * len(RATES),
    ]
    for method, data in result["methods"].items():
        cells = [f"{p['unknown_recall']:.1%} / {p['false_rejection']:.1%}" for p in data["points"]]
        lines.append(f"| {method} | {data['auroc']:.3f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"The bundle's own rule ({rule['method']}, threshold {rule['threshold']}): unknown caught "
        f"{rule['unknown_recall']:.1%}, known rejected {rule['false_rejection']:.1%}, known answered "
        f"correctly {rule['known_accuracy']:.1%}.",
        "",
    ]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Unknown requests caught against known tickets rejected (test), one line per score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for method, points in result["curves"].items():
        ax.plot([100 * x for x, _ in points], [100 * y for _, y in points], label=method)
    rule = result["product_rule"]
    ax.scatter(
        [100 * rule["false_rejection"]],
        [100 * rule["unknown_recall"]],
        color="black",
        zorder=3,
        label=f"the bundle's rule ({rule['method']})",
    )
    ax.axvline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("known tickets rejected (%)")
    ax.set_ylabel("unknown requests caught (%)")
    ax.set_title(f"{result['dataset']}: {len(result['held_out'])} intents the model never saw")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
