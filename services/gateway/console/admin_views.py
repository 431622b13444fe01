"""Console pages for the models and their quality: versions with metrics, gate verdicts and training
curves, activate / roll back / shadow (a confirmation page first; admin only, audited), training runs,
and the Quality page (live accuracy and draft adoption over time, per intent)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, send_file, url_for
from markupsafe import Markup

from services.gateway.console.charts import bars, line_chart, stacked_bars
from services.gateway.console.reports import plot_path, reports_of
from services.gateway.console.review import quality_series
from services.gateway.console.signin import ConsoleError, require
from services.gateway.resources import resources
from shared import model_lifecycle as lifecycle
from shared.access.models import Scope
from shared.learning.reports import shadow_report
from shared.learning.runs import get_run, list_runs
from shared.registry import Registry, RegistryError, VersionNotFound

bp = Blueprint("admin", __name__)
KINDS = ("classifier", "generator", "encoder")
ACTIONS = ("activate", "rollback", "shadow", "unshadow")
OUTCOMES = ("sent_as_is", "edited", "discarded")
OUTCOME_COLOURS = ("#16a34a", "#d97706", "#dc2626")  # kept: green, edited: amber, discarded: red


def _kind() -> str:
    kind = request.values.get("kind", "classifier")
    if kind not in KINDS:
        raise ConsoleError(422, f"kind must be one of {', '.join(KINDS)}")
    return kind


def _registry(kind: str) -> Registry:
    settings = resources().settings
    if kind == "classifier":
        return resources().registry
    return Registry(settings.generator_registry_dir if kind == "generator" else settings.encoder_registry_dir)


def training_curves(registry: Registry, version: str) -> Markup | None:
    """Loss and each head's validation accuracy per epoch, from the bundle's metrics.json."""
    path = registry.bundle_dir(version) / "metrics.json"
    try:
        history = json.loads(path.read_text()).get("history") or []
    except (OSError, ValueError):
        return None
    epochs = [str(h.get("epoch")) for h in history if isinstance(h, dict)]
    if not epochs:
        return None
    series: dict[str, list[float | None]] = {
        f"{head} accuracy": [(h.get("heads") or {}).get(head, {}).get("accuracy") for h in history]
        for head in history[-1].get("heads") or {}
    }
    return line_chart(f"{version}: validation accuracy per epoch", epochs, series, percent=True)


@bp.get("/models")
def models() -> str:
    require()
    kind = _kind()
    registry = _registry(kind)
    versions = lifecycle.list_models(registry)
    chosen = request.args.get("version") or registry.active_version()
    chart = training_curves(registry, chosen) if chosen in registry.versions() else None
    runs = list_runs(session_factory=resources().session_factory)[:20] if kind == "classifier" else []
    shadow = registry.shadow_version()
    report = None
    if shadow and kind == "classifier":  # the shadow model beside the active one on live tickets
        report = shadow_report(session_factory=resources().session_factory, version=shadow)
    reports = reports_of(resources().settings.reports_dir, chosen) if chosen else []
    return render_template(
        "console/models.html",
        reports=reports[:3],
        kind=kind,
        kinds=KINDS,
        versions=versions,
        active=registry.active_version(),
        shadow=shadow,
        shadow_report=report,
        previous=registry.active_record().get("previous", []),
        chosen=chosen,
        chart=chart,
        runs=runs,
    )


def _describe_action(registry: Registry, action: str, version: str | None) -> str:
    active = registry.active_version() or "none"
    if action == "activate":
        return f"Activate {version} in place of {active}"
    if action == "rollback":
        previous = registry.active_record().get("previous", [])
        return f"Roll back from {active} to {previous[-1] if previous else 'nothing: no previous version'}"
    if action == "shadow":
        return f"Run {version} in shadow beside {active}"
    return f"Stop the shadow model {registry.shadow_version() or '(none)'}"


@bp.get("/models/confirm/<action>")
def confirm(action: str) -> str:
    """The confirmation page: what the action will change, and the one button that does it."""
    require(Scope.ADMIN)
    kind, version = _kind(), request.args.get("version")
    if action not in ACTIONS:
        raise ConsoleError(404, f"no model action {action!r}")
    registry = _registry(kind)
    if version is not None and version not in registry.versions():
        raise ConsoleError(404, f"no {kind} version {version}")
    summary = _describe_action(registry, action, version)
    return render_template("console/confirm.html", kind=kind, action=action, version=version, summary=summary)


def _perform(action: str, kind: str, version: str | None) -> dict[str, Any]:
    registry, redis_client = _registry(kind), resources().redis
    if action == "activate":
        return lifecycle.activate_model(
            registry=registry, version=version or "", redis_client=redis_client, kind=kind
        )
    if action == "rollback":
        return lifecycle.rollback_model(registry=registry, redis_client=redis_client, kind=kind)
    if kind == "encoder":
        raise ConsoleError(422, "classifier and generator versions run in shadow, not encoders")
    chosen = version if action == "shadow" else None
    return lifecycle.set_shadow_model(registry=registry, version=chosen, redis_client=redis_client, kind=kind)


@bp.post("/models/<action>")
def model_action(action: str) -> Response:
    require(Scope.ADMIN)
    if action not in ACTIONS:
        raise ConsoleError(404, f"no model action {action!r}")
    kind, version = _kind(), request.form.get("version") or None
    try:
        _perform(action, kind, version)
    except VersionNotFound as exc:
        raise ConsoleError(404, str(exc)) from None
    except RegistryError as exc:
        raise ConsoleError(409, str(exc)) from None
    return redirect(url_for("console.admin.models", kind=kind, done=action))


@bp.get("/reports/<path:folder>/<name>")
def report_plot(folder: str, name: str) -> Response:
    """A PNG of an evaluation report, from the reports folder only."""
    require()
    path = plot_path(resources().settings.reports_dir, folder, name)
    if path is None:
        raise ConsoleError(404, "no such plot")
    return send_file(path, mimetype="image/png", max_age=300)


@bp.get("/models/runs/<run_id>")
def training_run(run_id: str) -> str:
    """A training run: why it ran or was skipped, its dataset, and the gate's report (candidate against the
    active model on the golden and recent sets)."""
    require()
    run = get_run(session_factory=resources().session_factory, run_id=run_id[:64])
    if run is None:
        raise ConsoleError(404, f"no training run {run_id[:64]}")
    report = json.dumps(run.report or {}, indent=2, ensure_ascii=False, default=str)
    return render_template("console/training_run.html", run=run, report=report)


@bp.get("/quality")
def quality() -> str:
    require()
    try:
        window = max(1, min(365, int(request.args.get("window_days", "30"))))
    except ValueError:
        raise ConsoleError(422, "window_days must be a whole number of days") from None
    data = quality_series(session_factory=resources().session_factory, window_days=window)
    days = [day[5:] for day, _n, _acc in data["accuracy"]]  # MM-DD
    accuracy = line_chart(
        "accuracy per day", days, {"accuracy": [a for _d, _n, a in data["accuracy"]]}, percent=True
    )
    adoption_days = [day[5:] for day, _counts in data["adoption"]]
    stacks = {o: [counts.get(o, 0) for _d, counts in data["adoption"]] for o in OUTCOMES}
    adoption = stacked_bars(
        "drafts per day by what the agent did", adoption_days, stacks, colours=OUTCOME_COLOURS
    )
    per_intent = bars(
        "accuracy per final intent", [(i, acc, f"{acc:.0%} of {n}") for i, n, acc in data["per_intent"][:30]]
    )
    return render_template(
        "console/quality.html",
        data=data,
        window=window,
        accuracy=accuracy,
        adoption=adoption,
        per_intent=per_intent,
    )
