"""Write deploy/k8s/monitoring/prometheus-rule.yaml from deploy/prometheus/alerts.yml (`make k8s-rules`):
one source of truth for recording rules and alerts, in both Prometheus' file format and the operator's CRD."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1]
SOURCE = DEPLOY / "prometheus" / "alerts.yml"
TARGET = DEPLOY / "k8s" / "monitoring" / "prometheus-rule.yaml"
HEADER = (
    "# Generated from deploy/prometheus/alerts.yml (tests/test_k8s.py fails when the two differ): the same\n"
    "# recording rules and alerts for the Prometheus Operator. Regenerate: make k8s-rules\n"
)


def render() -> str:
    groups = yaml.safe_load(SOURCE.read_text())["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "helploop",
            "namespace": "helploop",
            "labels": {"app.kubernetes.io/part-of": "helploop"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=110)


if __name__ == "__main__":
    TARGET.write_text(render())
    sys.stdout.write(f"wrote {TARGET.relative_to(DEPLOY.parent)}\n")
