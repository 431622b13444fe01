"""`helploop benchmark NAME --shots 5,10`: accuracy against labelled examples per intent, as a team starts.

For every size k, k examples per label are drawn (seeded) from the public training split; `helploop train`
then sees only them (its own validation share is held out of those k, as it would be for a team), once as
it trains by default (`contrastive: auto`, which picks the few-shot stage for small data) and once without
the stage (`contrastive: never`, the pipeline before it); the TF-IDF + linear SVM baseline is trained on the
same k. All three are scored on the full test split; the curve is written as JSON, Markdown and a plot.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from services.trainer.config import TrainConfig
from services.trainer.data import _rows
from shared.registry import Registry

log = logging.getLogger(__name__)
ARMS = ("default", "without_contrastive")  # the training runs per size; the TF-IDF baseline beside them


def subsample(train_file: Path, out: Path, *, per_label: int, label_column: str, seed: int) -> Path:
    """`per_label` rows of every label of `label_column` (all of a label with fewer), drawn with `seed`;
    the rows are written whole (other heads' columns kept) to `out` as JSONL."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(train_file):
        label = str(row.get(label_column) or "").strip()
        if label:
            groups[label].append(row)
    rng = random.Random(seed)
    chosen = [
        row
        for label in sorted(groups)
        for row in rng.sample(groups[label], min(per_label, len(groups[label])))
    ]
    rng.shuffle(chosen)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in chosen), encoding="utf-8")
    return out


def _scores(report: dict[str, Any], head: str) -> dict[str, Any]:
    """What the product returns (with its rejection rule) on the primary head; CLINC-style OOS figures."""
    result = report["model_eval"]["heads"][head]
    scores = {
        "accuracy": round(result["with_rejection"]["accuracy"], 4),
        "macro_f1": round(result["with_rejection"]["macro_f1"], 4),
    }
    if "oos" in result:
        scores["in_scope_accuracy"] = round(result["oos"]["in_scope_accuracy"], 4)
        scores["oos_recall"] = round(result["oos"]["oos_recall"], 4)
    return scores


def _train_and_score(
    config: TrainConfig, registry: Registry, test_file: Path, out: Path, cache_dir: Path
) -> dict[str, Any]:
    from services.trainer.assessment import run_evaluation
    from services.trainer.pipeline import run_training

    trained = run_training(config, registry=registry, cache_dir=cache_dir)
    report = run_evaluation(
        registry=registry,
        model=trained.version,
        test_file=test_file,
        out_dir=out,
        baseline=False,
        tfidf_baseline=False,
    )
    few_shot = trained.metrics.get("few_shot", {})
    return {
        "version": trained.version,
        **_scores(report, config.primary_head),
        "contrastive": few_shot.get("ran", False),
        "why": few_shot.get("reason"),
        "train_seconds": trained.metrics.get("train_seconds"),
    }


def _tfidf(config: TrainConfig, test_file: Path) -> dict[str, Any]:
    from services.trainer.baseline import run_baselines
    from services.trainer.data import load_examples

    test = load_examples(test_file, text_column=config.text_column, head_columns=config.head_columns)
    result = run_baselines(
        config=config.to_json(),
        test=test,
        languages=None,
        base_dir=None,
        max_length=config.max_length,
        centroid=False,
    )["tfidf_baseline"]
    head = result.get("heads", {}).get(config.primary_head, {})
    return {
        k: round(v, 4)
        for k, v in head.items()
        if k in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall")
    }


def run_curve(
    config: TrainConfig,
    *,
    name: str,
    shots: list[int],
    test_file: Path,
    registry: Registry,
    out_dir: Path,
    cache_dir: Path,
    seed: int = 13,
) -> dict[str, Any]:
    """Train and score at every size in `shots`; writes few_shot.{json,md,png} under `out_dir`."""
    label_column = config.head_columns[config.primary_head]
    points = []
    for k in shots:
        subset = subsample(
            config.train_file,
            out_dir / f"train_{k}_per_label.jsonl",
            per_label=k,
            label_column=label_column,
            seed=seed,
        )
        sized = replace(config, train_file=subset, valid_file=None)
        point: dict[str, Any] = {"per_label": k, "tfidf": _tfidf(sized, test_file)}
        for arm in ARMS:
            arm_config = sized if arm == "default" else replace(sized, contrastive="never")
            log.info("few-shot %s: %d per label, %s", name, k, arm)
            point[arm] = _train_and_score(arm_config, registry, test_file, out_dir / f"{k}" / arm, cache_dir)
        points.append(point)
        log.info("few-shot %s @%d: %s", name, k, point)
    result = {"dataset": name, "seed": seed, "head": config.primary_head, "points": points}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "few_shot.json").write_text(json.dumps(result, indent=2))
    (out_dir / "few_shot.md").write_text(markdown(result))
    plot(result, out_dir / "few_shot.png")
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Few labelled examples: {result['dataset']} (seed {result['seed']})",
        "",
        "| per label | default training | stage ran | without contrastive stage | TF-IDF + linear SVM |",
        "|---|---|---|---|---|",
    ]
    for point in result["points"]:
        default, without, tfidf = point["default"], point["without_contrastive"], point["tfidf"]
        lines.append(
            f"| {point['per_label']} | {default['accuracy']:.2%} "
            f"| {'yes' if default['contrastive'] else 'no'} "
            f"| {without['accuracy']:.2%} | {tfidf.get('accuracy', float('nan')):.2%} |"
        )
    return "\n".join(lines) + (
        "\n\nK labelled examples per intent in all (the trainer holds its validation share out of them, at "
        "least one per intent); accuracy of what the product returns (with its rejection rule) on the full "
        "test split.\n"
    )


def plot(result: dict[str, Any], path: Path) -> None:
    """Accuracy against examples per label, one line per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [p["per_label"] for p in result["points"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (
        ("default", "helploop train (default)"),
        ("without_contrastive", "without contrastive stage"),
        ("tfidf", "TF-IDF + linear SVM"),
    ):
        ax.plot(
            sizes,
            [100 * p[key].get("accuracy", float("nan")) for p in result["points"]],
            marker="o",
            label=label,
        )
    ax.set_xlabel("labelled examples per intent")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{result['dataset']}: accuracy vs examples per intent")
    ax.set_xticks(sizes)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
