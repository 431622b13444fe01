"""The learning loop end to end: agents resolve tickets of an intent the model has never seen; a training
run on the real training worker passes the gate, the model is activated and the inference worker starts
predicting the new intent — tickets flowing the whole time, none failed or lost; rollback restores the
previous model's predictions; the new model then runs in shadow beside the old one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helploop.cli.client import post_signed, ticket_payload, wait_for_triage
from services.trainer.demo_data import generate_tickets, write_dataset
from shared.registry import Registry
from tests.conftest import ADMIN_API_KEY, API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import BIN, Stack
from tests.learning_data import NEW_INTENT, NEW_LABELS, copy_active, new_intent_texts

pytestmark = pytest.mark.integration
READ = {"Authorization": f"Bearer {API_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_API_KEY}"}


@pytest.fixture
def learning_registry(trained_registry: Registry, tmp_path: Path) -> Registry:
    return copy_active(trained_registry, tmp_path / "models")


@pytest.fixture
def stack_env(learning_registry: Registry, tmp_path: Path) -> dict[str, str]:
    golden = tmp_path / "golden.csv"
    write_dataset(golden, per_intent=30, seed=99)
    return {  # the base data is the lineage's: what the active model was trained on
        "HELPLOOP_MODEL_REGISTRY_DIR": str(learning_registry.root),
        "HELPLOOP_TRAINING_DIR": str(tmp_path / "training"),
        "HELPLOOP_GOLDEN_SET_FILE": str(golden),
        "HELPLOOP_RETRAIN_EPOCHS": "1",  # the session's model had 30 steps: one whole epoch is enough
        "HELPLOOP_TRIAGE_TIME_LIMIT_S": "30",  # the machine is busy training: no spurious time-outs
    }


def post(stack: Stack, text: str) -> str:
    response = post_signed(stack.base_url, ticket_payload(text), WEBHOOK_SECRET)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def triaged(stack: Stack, ticket_id: str, timeout: float = 60) -> dict[str, Any]:
    view = wait_for_triage(f"{stack.base_url}/v1/tickets/{ticket_id}", API_KEY, timeout=timeout)
    assert view["status"] == "triaged", (view, stack.logs())
    return view["classification"]


class Traffic(threading.Thread):
    """Ordinary tickets posted every 0.5 s while the model is retrained and swapped."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack, self.ids, self.errors = stack, [], []
        self.texts = [t.text for t in generate_tickets(per_intent=5, seed=21)]
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            try:
                self.ids.append(post(self.stack, self.texts[i % len(self.texts)] + f" (ref {i})"))
            except Exception as exc:  # recorded: the test fails on any refused ticket
                self.errors.append(repr(exc))
            i += 1
            self.halt.wait(0.5)


@pytest.fixture
def traffic(stack: Stack) -> Iterator[Traffic]:
    thread = Traffic(stack)
    yield thread
    thread.halt.set()


def resolve(stack: Stack, ticket_id: str) -> None:
    body = {"intent": NEW_INTENT, "labels": {k: v for k, v in NEW_LABELS.items() if k != "label"}}
    response = requests.post(
        f"{stack.base_url}/v1/tickets/{ticket_id}/resolution", json=body, headers=READ, timeout=10
    )
    assert response.status_code in (200, 201), response.text


def wait_for_run(stack: Stack, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = requests.get(f"{stack.base_url}/v1/training/runs/{run_id}", headers=READ, timeout=10).json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(2)
    pytest.fail(f"training run {run_id} still {run['status']} after {timeout}s\n{stack.logs()}")


def wait_until_served(stack: Stack, version: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if triaged(stack, post(stack, "Where is my parcel? It is late."))["model_version"] == version:
            return
        time.sleep(0.5)
    pytest.fail(f"the worker never served {version}\n{stack.logs()}")


def wait_for_shadow(stack: Stack, version: str, *, predictions: int, timeout: float = 60) -> dict[str, Any]:
    """The shadow runs off the critical path (queue `batch`): its predictions arrive after the triage."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = requests.get(
            f"{stack.base_url}/v1/models/{version}/shadow-report", headers=READ, timeout=10
        ).json()
        if report["labelled"] >= predictions:
            return report
        time.sleep(0.5)
    pytest.fail(f"shadow report incomplete: {report}\n{stack.logs()}")


def test_new_intent_is_learned_promoted_and_rolled_back_without_losing_a_ticket(
    stack: Stack, learning_registry: Registry, traffic: Traffic
) -> None:
    old = learning_registry.active_version()
    stack.start("training", [str(BIN / "helploop"), "training-worker"])
    for text in new_intent_texts(60, seed=11):  # agents resolve tickets of an intent the model lacks
        ticket_id = post(stack, text)
        assert triaged(stack, ticket_id)["label"] != NEW_INTENT
        resolve(stack, ticket_id)
    traffic.start()
    started = requests.post(f"{stack.base_url}/v1/training/runs", json={}, headers=ADMIN, timeout=10)
    assert started.status_code == 202, started.text
    run = wait_for_run(stack, started.json()["id"], timeout=600)
    assert run["status"] == "promoted", (run["reasons"], run["error"], stack.logs())
    assert run["report"]["gate"]["passed"] and run["active_version"] == old
    new = run["candidate_version"]
    assert requests.get(f"{stack.base_url}/v1/models", headers=READ, timeout=10).json()["active"] == new
    wait_until_served(stack, new)  # loaded in the background; tasks meanwhile ran on the old model
    fresh = [triaged(stack, post(stack, text)) for text in new_intent_texts(8, seed=12)]
    assert {c["model_version"] for c in fresh} == {new}
    assert sum(c["label"] == NEW_INTENT for c in fresh) >= 7, [c["label"] for c in fresh]
    rolled = requests.post(f"{stack.base_url}/v1/models/rollback", headers=ADMIN, timeout=10).json()
    assert rolled == {"active": old, "previous": new}
    after = [
        triaged(stack, post(stack, text)) for text in new_intent_texts(3, seed=13)
    ]  # kept loaded: at once
    assert {c["model_version"] for c in after} == {old} and NEW_INTENT not in {c["label"] for c in after}
    shadowing = requests.put(f"{stack.base_url}/v1/models/shadow/{new}", headers=ADMIN, timeout=10)
    assert shadowing.json() == {"shadow": new, "active": old}
    shadowed = [post(stack, text) for text in new_intent_texts(4, seed=14)]
    for ticket_id in shadowed:
        triaged(stack, ticket_id)
        resolve(stack, ticket_id)
    report = wait_for_shadow(stack, new, predictions=len(shadowed))
    assert report["shadow_accuracy"] > report["active_accuracy"]  # the new intent: only the shadow knows it
    traffic.halt.set()
    traffic.join(10)
    assert not traffic.errors and len(traffic.ids) > 20
    versions = {triaged(stack, ticket_id, timeout=120)["model_version"] for ticket_id in traffic.ids}
    assert old in versions  # tickets flowed before and after the swap, on whichever model was active
