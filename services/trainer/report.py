"""Write an evaluation report directory: report.json, report.md and PNG plots (confusions, reliability,
training curves, the fine-tuned model beside its baselines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.trainer.baseline import SYSTEMS
from services.trainer.evaluate import UNKNOWN_LANGUAGE

MAX_MATRIX_CLASSES = 20
SYSTEM_NAMES = {"fine_tuned": "fine-tuned", "centroid": "zero-shot centroid", "tfidf": "TF-IDF + linear SVM"}


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


def _bars(ax: Any, groups: list[tuple[str, dict[str, Any]]], metric: str) -> None:
    """One bar per system and group, its value on top; "n/a" where a system has no result."""
    width = 0.8 / len(SYSTEMS)
    for k, system in enumerate(SYSTEMS):
        for g, (_, row) in enumerate(groups):
            x = g + (k - (len(SYSTEMS) - 1) / 2) * width
            value = row[system].get(metric)
            if value is None:
                ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            ax.bar(x, value, width, color=f"C{k}")
            ax.text(x, value, f"{value:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(-0.5, len(groups) - 0.5)
    ax.set_ylim(0, 1.25)


def _tick_delta(row: dict[str, Any]) -> str:
    delta = row.get("fine_tuned_minus_tfidf")
    return f"Δ acc {delta['accuracy']:+.3f}\nΔ F1 {delta['macro_f1']:+.3f}" if delta else "Δ n/a"


def plot_baselines(side: dict[str, Any], path: Path) -> None:
    """Accuracy and macro-F1 of the fine-tuned model and both baselines, per head (and language)."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    groups = []
    for name, head in side["heads"].items():
        groups.append((name, head))
        if multilingual(side):
            groups += [(f"{name} · {lang}", row) for lang, row in head["by_language"].items()]
    fig, axes = plt.subplots(2, 1, figsize=(max(6.5, len(groups) * 2.2), 7.5), sharex=True)
    handles = [Patch(color=f"C{k}", label=SYSTEM_NAMES[system]) for k, system in enumerate(SYSTEMS)]
    for ax, metric, label in zip(axes, ("accuracy", "macro_f1"), ("accuracy", "macro-F1"), strict=True):
        _bars(ax, groups, metric)
        ax.set_ylabel(label)
        ax.legend(handles=handles, loc="upper center", ncol=len(SYSTEMS), fontsize=8)
    axes[0].set_title("fine-tuned vs baselines, same test examples (Δ: fine-tuned − TF-IDF)", fontsize=10)
    ticks = [f"{g}\n{_tick_delta(row)}" for g, row in groups]
    axes[1].set_xticks(range(len(groups)), ticks, fontsize=7)
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


def _pair(cell: dict[str, Any]) -> str:
    return f"{cell['accuracy']:.4f} / {cell['macro_f1']:.4f}" if "accuracy" in cell else "n/a"


def _delta(row: dict[str, Any]) -> str:
    delta = row.get("fine_tuned_minus_tfidf")
    return f"{delta['accuracy']:+.4f} / {delta['macro_f1']:+.4f}" if delta else "n/a"


def multilingual(side: dict[str, Any]) -> bool:
    """Per-language rows are worth showing when the test set has two or more identified languages."""
    found = {lang for head in side["heads"].values() for lang in head["by_language"]}
    return len(found - {UNKNOWN_LANGUAGE}) >= 2


def _table_rows(side: dict[str, Any]) -> list[str]:
    rows = []
    per_language = multilingual(side)
    for name, head in side["heads"].items():
        items = [("all", head)] + (list(head["by_language"].items()) if per_language else [])
        for language, row in items:
            cells = [_pair(row[system]) for system in SYSTEMS]
            rows.append(f"| {name} | {language} | {row['examples']} | {' | '.join(cells)} | {_delta(row)} |")
    return rows


def _verdict(name: str, delta: dict[str, float]) -> str:
    acc, f1 = delta["accuracy"] * 100, delta["macro_f1"] * 100
    return (
        f"- {name}: fine-tuning {'adds' if acc >= 0 else 'loses'} {abs(acc):.1f} points of accuracy "
        f"and {'adds' if f1 >= 0 else 'loses'} {abs(f1):.1f} of macro-F1 against the TF-IDF baseline."
    )


def _verdicts(side: dict[str, Any]) -> list[str]:
    """Per head (and language): what the fine-tuned model adds (or loses) against the TF-IDF baseline."""
    lines = []
    for name, head in side["heads"].items():
        items = [(name, head)]
        if multilingual(side):
            items += [(f"{name} · {lang}", row) for lang, row in head["by_language"].items()]
        lines += [
            _verdict(label, row["fine_tuned_minus_tfidf"])
            for label, row in items
            if "fine_tuned_minus_tfidf" in row
        ]
    return lines


def _method_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for key, title in (("baseline", "Zero-shot centroid"), ("tfidf_baseline", "TF-IDF baseline")):
        result = report.get(key) or {"unavailable": "not run"}
        lines.append(f"- {title}: {result.get('method', '')}.")
        if "unavailable" in result:
            lines.append(f"  **Not available: {result['unavailable']}**")
        else:
            trained = result.get("train_split", f"{result.get('train_examples', '?')} training examples")
            seconds = f", {result['seconds']:.1f} s" if "seconds" in result else ""
            lines.append(f"  Fitted on {trained}{seconds}.")
            lines += [
                f"  Head {head}: **not available: {r['unavailable']}**"
                for head, r in result.get("heads", {}).items()
                if "unavailable" in r
            ]
    return lines


def baseline_section(report: dict[str, Any]) -> list[str]:
    side = report["versus_baselines"]
    return [
        "",
        "## Fine-tuned model vs baselines",
        "",
        "Accuracy / macro-F1 on the same test examples. The baselines train on the fine-tuned model's "
        "training split; the fine-tuned column is the classifier's argmax (no rejection rule), as theirs.",
        "",
        "| head | language | examples | fine-tuned | zero-shot centroid (before fine-tuning) | "
        "TF-IDF + linear SVM | fine-tuned − TF-IDF |",
        "|---|---|---|---|---|---|---|",
        *_table_rows(side),
        "",
        *_verdicts(side),
        "",
        *_method_lines(report),
    ]


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
    for name, effect in report.get("lexical", {}).items():
        lines += [
            "",
            f"{name}: the network's logits plus its TF-IDF + linear SVM companion at weight "
            f"{effect['weight']:g} (chosen on validation): accuracy "
            f"{effect['accuracy_graph_alone']:.4f} from the network alone, "
            f"{effect['accuracy']:.4f} as served.",
        ]
    latency = report["model_eval"]["latency"]
    lines += [
        "",
        f"Latency per ticket: batch 1 p50 {latency['batch1_p50_ms']:.2f} ms, p95 "
        f"{latency['batch1_p95_ms']:.2f} ms; batched {latency['batched_ms_per_ticket']:.2f} ms",
    ]
    if "versus_baselines" in report:
        lines += baseline_section(report)
    if "comparison" in report:
        comparison = report["comparison"]
        lines += ["", "## Compared model", "", "| head | accuracy | macro-F1 |", "|---|---|---|"]
        for name, head in comparison["heads"].items():
            lines.append(f"| {name} | {head['accuracy']:.4f} | {head['macro_f1']:.4f} |")
        lines.append(
            f"\naccuracy of this model minus {comparison['version']}: {comparison['accuracy_delta']:+.4f}"
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
    if "versus_baselines" in report:
        plot_baselines(report["versus_baselines"], out_dir / "baselines.png")
        plots.append("baselines.png")
    if history:
        plot_training_curves(history, out_dir / "training_curves.png")
        plots.append("training_curves.png")
    report["plots"] = plots
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(render_markdown(report))
    return out_dir
