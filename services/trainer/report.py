"""Write an evaluation report directory: report.json, report.md and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_MATRIX_CLASSES = 20


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusions(head: dict[str, Any], path: Path, title: str) -> None:
    """The classes involved in the most confusions (all classes when there are few)."""
    plt = _pyplot()
    confusions = head["top_confusions"]
    classes: list[str] = []
    for item in confusions:
        for name in (item["gold"], item["predicted"]):
            if name not in classes and len(classes) < MAX_MATRIX_CLASSES:
                classes.append(name)
    if len(head["per_class"]) <= MAX_MATRIX_CLASSES:
        classes = sorted(head["per_class"])
    index = {name: i for i, name in enumerate(classes)}
    matrix = [[0] * len(classes) for _ in classes]
    for item in confusions:
        if item["gold"] in index and item["predicted"] in index:
            matrix[index[item["gold"]]][index[item["predicted"]]] = item["count"]
    fig, ax = plt.subplots(figsize=(max(6, len(classes) * 0.45), max(5, len(classes) * 0.4)))
    image = ax.imshow(matrix, cmap="Reds")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{title}: top confusions (off-diagonal counts)")
    fig.colorbar(image)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(head: dict[str, Any], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect")
    for key, label in (("reliability_uncalibrated", "before"), ("reliability", "after temperature")):
        bins = head.get(key, [])
        ece = head.get("ece_uncalibrated" if key.endswith("uncalibrated") else "ece", float("nan"))
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            "o-",
            label=f"{label} (ECE {ece:.3f})",
        )
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}: reliability (15 bins)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training_curves(history: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [h.get("train_loss") for h in history], "o-", label="train loss")
    left.plot(epochs, [h.get("loss") for h in history], "o-", label="validation loss")
    left.set_xlabel("epoch")
    left.legend()
    for head in history[-1].get("heads") or {}:
        right.plot(
            epochs,
            [h["heads"][head]["accuracy"] for h in history if "heads" in h],
            "o-",
            label=f"{head} accuracy",
        )
    right.set_xlabel("epoch")
    right.set_ylim(0, 1.01)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _head_row(name: str, head: dict[str, Any]) -> str:
    rejected = head["with_rejection"]
    return (
        f"| {name} | {head['examples']} | {head['accuracy']:.4f} | {head['macro_f1']:.4f} | "
        f"{rejected['accuracy']:.4f} ({rejected['rejected_share']:.1%} rejected) | "
        f"{head.get('ece_uncalibrated', float('nan')):.4f} → {head.get('ece', float('nan')):.4f} |"
    )


def _oos_line(name: str, head: dict[str, Any]) -> str:
    oos, plain, rule = head["oos"], head["oos_without_threshold"], head["rejection"]
    return (
        f"Out-of-scope ({name}, {oos['oos_support']} OOS queries). With the rejection rule ({rule['method']} "
        f"below {rule['threshold']:.4g}): in-scope accuracy {oos['in_scope_accuracy']:.4f}, OOS recall "
        f"{oos['oos_recall']:.4f}, precision {oos['oos_precision']:.4f}. OOS class alone: in-scope accuracy "
        f"{plain['in_scope_accuracy']:.4f}, OOS recall {plain['oos_recall']:.4f}."
    )


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation of model {report['model']['version']}",
        "",
        f"Test file: `{report['test_file']}` ({report['model_eval']['examples']} examples)",
        "",
        "| head | examples | accuracy | macro-F1 | accuracy with the rejection rule | ECE before → after |",
        "|---|---|---|---|---|---|",
    ]
    for name, head in report["model_eval"]["heads"].items():
        lines.append(_head_row(name, head))
    lines += [
        "",
        "Accuracy and macro-F1 are the classifier's argmax; the rejection rule turns low-scoring "
        "tickets into `out_of_scope` (counted as errors for in-scope tickets).",
    ]
    for name, head in report["model_eval"]["heads"].items():
        if "oos" in head:
            lines += ["", _oos_line(name, head)]
    latency = report["model_eval"]["latency"]
    lines += [
        "",
        f"Latency per ticket: batch 1 p50 {latency['batch1_p50_ms']:.2f} ms, p95 "
        f"{latency['batch1_p95_ms']:.2f} ms; batched {latency['batched_ms_per_ticket']:.2f} ms",
    ]
    for key, title in (
        ("baseline", "Before fine-tuning (zero-shot nearest centroid, pretrained encoder)"),
        ("comparison", "Compared model"),
    ):
        if key in report:
            lines += ["", f"## {title}", "", "| head | accuracy | macro-F1 |", "|---|---|---|"]
            for name, head in report[key]["heads"].items():
                lines.append(f"| {name} | {head['accuracy']:.4f} | {head['macro_f1']:.4f} |")
            if "version" in report[key]:
                lines.append(
                    f"\naccuracy of this model minus {report[key]['version']}: "
                    f"{report[key]['accuracy_delta']:+.4f}"
                )
    lines += ["", "Plots: " + ", ".join(f"`{p}`" for p in report["plots"])]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], history: list[dict[str, Any]], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = []
    for name, head in report["model_eval"]["heads"].items():
        plot_confusions(head, out_dir / f"confusion_{name}.png", name)
        plot_reliability(head, out_dir / f"reliability_{name}.png", name)
        plots += [f"confusion_{name}.png", f"reliability_{name}.png"]
    if history:
        plot_training_curves(history, out_dir / "training_curves.png")
        plots.append("training_curves.png")
    report["plots"] = plots
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(render_markdown(report))
    return out_dir
