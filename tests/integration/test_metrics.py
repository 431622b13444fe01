"""After one ticket through real gunicorn + Celery, `/metrics` on the gateway and on the worker node
shows every metric family (pre-created series at zero where nothing happened yet)."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helploop.cli.client import post_signed, ticket_payload, wait_for_triage
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway_workers() -> int:
    """The gateway's counters are summed across its gunicorn workers: two of them here."""
    return 2


GATEWAY_FAMILIES = {
    "helploop_webhook_request_duration_seconds",
    "helploop_http_request_duration_seconds",
    "helploop_queue_depth",
    "helploop_queue_unacked",
    "helploop_active_model_info",
    "helploop_live_accuracy_resolved_tickets",
    "helploop_writeback_dead_letters_waiting",
}
WORKER_FAMILIES = {
    "helploop_queue_wait_seconds",
    "helploop_task_duration_seconds",
    "helploop_inference_duration_seconds",
    "helploop_ticket_triage_latency_seconds",
    "helploop_tickets_classified",
    "helploop_tickets_routed",
    "helploop_drafts",
    "helploop_drafts_flagged",
    "helploop_writeback_attempts",
    "helploop_writeback_dead_letters",
    "helploop_model_load_seconds",
    "helploop_model_served",
    "helploop_training_runs",
    "helploop_training_run_duration_seconds",
}


def scrape(url: str) -> dict[str, list]:
    text = requests.get(url, timeout=10).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list, name: str, **labels: str) -> float:
    return sum(
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_every_family_is_exposed_after_one_ticket(stack: Stack) -> None:
    response = post_signed(
        stack.base_url, ticket_payload("My parcel never arrived, where is it?"), WEBHOOK_SECRET
    )
    assert response.status_code == 202
    view = wait_for_triage(response.json()["status_url"], API_KEY, timeout=15)
    assert view["status"] == "triaged"
    gateway = scrape(f"{stack.base_url}/metrics")
    worker = scrape(f"http://127.0.0.1:{stack.env['HELPLOOP_WORKER_METRICS_PORT']}/metrics")
    assert set(gateway) >= GATEWAY_FAMILIES, GATEWAY_FAMILIES - set(gateway)
    assert set(worker) >= WORKER_FAMILIES, WORKER_FAMILIES - set(worker)
    webhooks = gateway["helploop_webhook_request_duration_seconds"]
    assert (
        value(webhooks, "helploop_webhook_request_duration_seconds_count", provider="generic", status="202")
        == 1
    )
    assert value(gateway["helploop_queue_depth"], "helploop_queue_depth", queue="triage") == 0
    active = gateway["helploop_active_model_info"][0].labels
    assert active["version"] == view["classification"]["model_version"]
    for stage in ("tokenize", "classify"):
        assert (
            value(
                worker["helploop_inference_duration_seconds"],
                "helploop_inference_duration_seconds_count",
                stage=stage,
            )
            >= 1
        )
    assert (
        value(worker["helploop_queue_wait_seconds"], "helploop_queue_wait_seconds_count", queue="triage") >= 1
    )
    assert (
        value(
            worker["helploop_ticket_triage_latency_seconds"], "helploop_ticket_triage_latency_seconds_count"
        )
        == 1
    )
    label = view["classification"]["label"]
    assert (
        value(worker["helploop_tickets_classified"], "helploop_tickets_classified_total", intent=label) == 1
    )
    assert value(worker["helploop_tickets_routed"], "helploop_tickets_routed_total") == 1
    served = worker["helploop_model_served"]
    assert value(served, "helploop_model_served", kind="classifier", version=active["version"]) >= 1
    ids = {view["id"], view["external_id"], "alex.doe@example.com"}
    for samples in (*gateway.values(), *worker.values()):
        assert not ids & {v for s in samples for v in s.labels.values()}  # no ticket or customer in labels


def test_worker_node_probes(stack: Stack) -> None:
    """Kubernetes' probes and compose healthchecks on the worker node: liveness, readiness with its checks."""
    node = f"http://127.0.0.1:{stack.env['HELPLOOP_WORKER_METRICS_PORT']}"
    assert requests.get(f"{node}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{node}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert set(checks) == {"broker", "classifier"} and all(c["ok"] for c in checks.values())
    missing = requests.get(f"{node}/nope", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
