"""Evaluation reports on disk (`helploop evaluate --out`, `make eval` under `var/reports/`): which ones are of
a model version, and their plots, served from that folder only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MAX_REPORTS = 500  # report.json files read per look-up


@dataclass(frozen=True)
class EvaluationReport:
    folder: str  # relative to the reports folder
    plots: list[str]  # PNG file names in it


def reports_of(root: Path, version: str) -> list[EvaluationReport]:
    """The evaluation reports whose `model.version` is `version`, newest folder first."""
    found: list[tuple[float, EvaluationReport]] = []
    if not root.is_dir():
        return []
    for count, path in enumerate(root.rglob("report.json")):
        if count >= MAX_REPORTS:
            break
        try:
            model = json.loads(path.read_text()).get("model") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(model, dict) and model.get("version") == version:
            plots = sorted(p.name for p in path.parent.glob("*.png"))
            found.append((path.stat().st_mtime, EvaluationReport(str(path.parent.relative_to(root)), plots)))
    return [report for _, report in sorted(found, key=lambda item: -item[0])]


def plot_path(root: Path, folder: str, name: str) -> Path | None:
    """The PNG `name` in `folder` under `root`, or None when it is not a plot there (no path escapes)."""
    if not name.endswith(".png") or "/" in name or "\\" in name:
        return None
    base = root.resolve()
    path = (base / folder / name).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path
