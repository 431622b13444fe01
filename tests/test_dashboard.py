"""deploy/grafana: the dashboard is provisioned against the provisioned data source, and every query
(dashboard panels and alert rules) names only metrics helploop exports — a typo cannot hide in a panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import Counter, Histogram

from shared import metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SCRAPE_TIME = {  # read by the gateway at scrape time (services/gateway/observability.py)
    "helploop_queue_depth",
    "helploop_queue_unacked",
    "helploop_active_model_info",
    "helploop_live_accuracy_ratio",
    "helploop_live_accuracy_resolved_tickets",
    "helploop_draft_adoption_ratio",
    "helploop_draft_adoption_resolved_tickets",
    "helploop_writeback_dead_letters_waiting",
}


def exported_names() -> set[str]:
    names = set(SCRAPE_TIME)
    for value in vars(metrics).values():
        if isinstance(value, Histogram):
            names |= {f"{value._name}_{s}" for s in ("bucket", "sum", "count")}
        elif isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif hasattr(value, "_name") and hasattr(value, "_labelnames"):
            names.add(value._name)
    return names


def queried_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\bhelploop_[a-z0-9_]+", expr)) - {"helploop_"}


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "helploop.json").read_text())


def test_dashboard_panels_use_the_provisioned_source_and_real_metrics() -> None:
    source = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = source["datasources"][0]["uid"]
    board = dashboard()
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"]) >= 12
    known = exported_names()
    for panel in board["panels"]:
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            used = queried_metrics(target["expr"])
            assert used and used <= known, (panel["title"], used - known)


def test_alert_rules_use_real_metrics_and_recorded_series() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = exported_names()
    for rule in rules:
        assert queried_metrics(rule["expr"]) <= known, rule
        if "alert" in rule:
            assert rule["annotations"]["summary"] and rule["labels"]["severity"] in {"page", "warning"}
            assert set(re.findall(r"helploop:[a-z0-9_:]+", rule["expr"])) <= recorded, rule["alert"]


def test_readme_explains_every_panel() -> None:
    """The operations doc's panel table names each dashboard panel, and nothing that is not one."""
    readme = (DEPLOY.parent / "docs" / "operations.md").read_text()
    section = readme.split("What each panel means", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1].strip() for line in section.splitlines()[2:] if line.startswith("|")]
    assert rows == [panel["title"] for panel in dashboard()["panels"]]
