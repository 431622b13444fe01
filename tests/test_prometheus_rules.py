"""deploy/prometheus: `promtool check config`, `check rules` and the alert unit tests (`test rules`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.prometheus_tools import PrometheusTools, find_prometheus

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"


@pytest.fixture(scope="session")
def tools() -> PrometheusTools:
    found, how = find_prometheus()
    if found is None:
        pytest.skip(f"Prometheus unavailable: {how}")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ],
)
def test_promtool(tools: PrometheusTools, args: list[str]) -> None:
    result = subprocess.run(
        [str(tools.promtool), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
