"""A real Prometheus on loopback scrapes a running gateway and worker; after real traffic every dashboard
panel query and every recorded series of the alert rules returns data through Prometheus' HTTP API, and
every alert expression evaluates."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
import yaml

from helploop.cli.client import post_signed, ticket_payload, wait_for_triage
from shared.redis_server import free_port
from shared.registry import Registry
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import Stack
from tests.prometheus_tools import find_prometheus

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway_workers() -> int:
    """Prometheus scrapes what two gunicorn workers wrote into one metrics directory."""
    return 2


DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def rules() -> list[dict]:
    return yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]


def panel_queries() -> list[tuple[str, str]]:
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "helploop.json").read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]]


@pytest.fixture
def stack_env(generator_registry: Registry) -> dict[str, str]:
    return {
        "HELPLOOP_LIVE_ACCURACY_CACHE_S": "1",  # the resolution sent mid-test shows at the next scrape
        # drafts on, with the untuned generator: never asked, so each ticket gets its template draft at once,
        # and the resolution's reply gives the adoption series something to measure
        "HELPLOOP_DRAFTS_ENABLED": "true",
        "HELPLOOP_GENERATOR_REGISTRY_DIR": str(generator_registry.root),
    }


def prometheus_config(stack: Stack, path: Path) -> Path:
    """deploy/prometheus/prometheus.yml's jobs, pointed at this stack, scraping every second."""
    gateway = urlparse(stack.base_url).netloc
    worker = f"127.0.0.1:{stack.env['HELPLOOP_WORKER_METRICS_PORT']}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "helploop-gateway", "static_configs": [{"targets": [gateway]}]},
            {"job_name": "helploop-worker", "static_configs": [{"targets": [worker]}]},
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[str]:
    tools, how = find_prometheus()
    if tools is None:
        pytest.skip(f"Prometheus unavailable: {how}")
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        str(tools.prometheus),
        f"--config.file={prometheus_config(stack, tmp_path / 'prometheus.yml')}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address={urlparse(url).netloc}",
    ]
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def query(url: str, expr: str) -> list[dict]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def wait_for_series(url: str, expr: str, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not (result := query(url, expr)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return result


def draft_of(stack: Stack, ticket_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = requests.get(
            f"{stack.base_url}/v1/tickets/{ticket_id}",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        ).json()
        if view.get("draft"):
            return view["draft"]
        time.sleep(0.3)
    raise AssertionError(f"no draft for {ticket_id}\n{stack.logs()}")


def traffic(stack: Stack) -> None:
    texts = [
        "My parcel never arrived, where is it?",
        "I want a refund for the broken kettle",
        "Great service, thanks!",
    ]
    for round_ in range(2):  # two bursts a few seconds apart: rates over several scrapes
        for text in texts:
            note = [{"filename": "note.txt", "content_base64": base64.b64encode(text.encode()).decode()}]
            payload = ticket_payload(text, attachments=note if text == texts[1] else None)  # the media panel
            response = post_signed(stack.base_url, payload, WEBHOOK_SECRET)
            view = wait_for_triage(response.json()["status_url"], API_KEY, timeout=15)
            assert view["status"] == "triaged", stack.logs()
            if round_ == 0 and text == texts[0]:
                draft_of(stack, view["id"])
                body = {
                    "intent": view["classification"]["label"],
                    "reply": "Hi Alex, we traced it: it is on its way.",
                }
                headers = {"Authorization": f"Bearer {API_KEY}"}
                requests.post(
                    f"{stack.base_url}/v1/tickets/{view['id']}/resolution",
                    json=body,
                    headers=headers,
                    timeout=10,
                )
        time.sleep(3)


def test_every_panel_and_recorded_series_returns_data(stack: Stack, prometheus: str) -> None:
    assert wait_for_series(prometheus, 'up{job="helploop-worker"} == 1'), "worker never scraped"
    traffic(stack)
    assert wait_for_series(prometheus, "helploop:triage_latency_seconds:p95_5m > 0"), "no latency recorded"
    empty = [
        (title, expr) for title, expr in panel_queries() if not wait_for_series(prometheus, expr, timeout=10)
    ]
    assert not empty, empty
    for rule in rules():
        if "record" in rule:
            assert wait_for_series(prometheus, rule["record"], timeout=10), rule["record"]
        else:
            query(prometheus, rule["expr"])  # evaluates (a healthy stack fires nothing)
    firing = [
        a["labels"]["alertname"]
        for a in requests.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    ]
    assert "HelploopNoInferenceWorker" not in firing
