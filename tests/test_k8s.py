"""deploy/k8s without a cluster: kustomize renders every overlay, commands and settings exist, probes hit
the endpoints the processes serve on the ports they listen on, KEDA scales on queues the target serves,
disruption budgets and services select real pods, the operator's rules equal deploy/prometheus/alerts.yml.
And deploy/docker: multi-stage images that run as a non-root user."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.k8s.render_rules import TARGET as RULE_FILE
from deploy.k8s.render_rules import render
from shared.celery_app import KNOWN_QUEUES
from shared.settings import Settings
from tests.test_deploy import helploop_commands

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("base", "gpu", "monitoring")
SECRET_KEYS = {
    "HELPLOOP_DATABASE_URL",
    "HELPLOOP_WEBHOOK_SECRETS",
    "HELPLOOP_API_KEYS",
    "HELPLOOP_ADMIN_API_KEYS",
}


def _load_raw(directory: Path) -> list[dict[str, Any]]:
    """Without kubectl: the kustomization's resources as written (no namespace or label transforms)."""
    docs: list[dict[str, Any]] = []
    for entry in yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]:
        path = (directory / entry).resolve()
        docs += _load_raw(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def rendered(overlay: str = "gpu") -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return _load_raw(K8S / overlay)
    result = subprocess.run([kubectl, "kustomize", str(K8S / overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_templates(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = ("Deployment", "StatefulSet", "Job")
    return {doc["metadata"]["name"]: doc["spec"]["template"] for doc in docs if doc["kind"] in kinds}


def helploop_containers(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, container)
        for name, template in pod_templates(docs).items()
        for container in template["spec"]["containers"]
        if container.get("command", [""])[0] == "helploop"
    ]


def served_queues(container: dict[str, Any]) -> set[str]:
    command = container["command"]
    return set(command[command.index("--queues") + 1].split(",")) if "--queues" in command else set()


def test_kustomize_renders_every_overlay_into_one_namespace() -> None:
    if shutil.which("kubectl") is None:
        pytest.skip(
            "kubectl is not installed: kustomize rendering not checked (the other tests read the files)"
        )
    for overlay in OVERLAYS:
        docs = rendered(overlay)
        assert docs, overlay
        for doc in docs:
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "helploop", (overlay, doc["metadata"]["name"])
    for name, template in pod_templates(rendered()).items():
        assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "helploop", name


def test_every_container_runs_an_existing_command_on_known_queues() -> None:
    known = helploop_commands()
    containers = helploop_containers(rendered())
    assert {name for name, _ in containers} >= {
        "gateway",
        "worker",
        "worker-gpu",
        "drafter",
        "training",
        "beat",
    }
    for name, container in containers:
        assert container["command"][1] in known, (name, container["command"])
        assert served_queues(container) <= set(KNOWN_QUEUES), name


def test_configuration_names_are_settings_and_the_config_validates() -> None:
    docs = rendered()
    fields = {f"HELPLOOP_{name.upper()}" for name in Settings.model_fields}
    config = of_kind(docs, "ConfigMap")["helploop-config"]["data"]
    assert set(config) <= fields and fields >= SECRET_KEYS, set(config) - fields
    assert not SECRET_KEYS & set(config), "secrets belong in the Secret, not the ConfigMap"
    Settings.model_validate({key.removeprefix("HELPLOOP_").lower(): value for key, value in config.items()})
    for name, container in helploop_containers(docs):
        refs = {ref.get("configMapRef", ref.get("secretRef", {})).get("name") for ref in container["envFrom"]}
        assert refs == {"helploop-config", "helploop-secrets"}, name
        assert {env["name"] for env in container.get("env", [])} <= fields, name


def _port(container: dict[str, Any], name: str) -> int:
    return next(p["containerPort"] for p in container["ports"] if p["name"] == name)


def _listening_port(container: dict[str, Any]) -> int:
    """Where the process listens: gunicorn's --bind, else the metrics-port setting in the env."""
    command = container["command"]
    if "--bind" in command:
        return int(command[command.index("--bind") + 1].rsplit(":", 1)[1])
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    key = (
        "HELPLOOP_TRAINING_METRICS_PORT"
        if command[1] == "training-worker"
        else "HELPLOOP_WORKER_METRICS_PORT"
    )
    return int(env[key])


def test_probes_use_health_endpoints_on_the_port_the_process_listens_on() -> None:
    templates = pod_templates(rendered())
    for name, container in helploop_containers(rendered()):
        if not container.get("ports"):
            assert name in {"beat", "helploop-migrate"}, f"{name} has no port to probe"
            continue
        probes = {
            kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        assert probes["livenessProbe"]["path"] == "/healthz" and probes["startupProbe"]["path"] == "/healthz"
        assert probes["readinessProbe"]["path"] == "/readyz", name
        port_name = probes["readinessProbe"]["port"]
        assert {probe["port"] for probe in probes.values()} == {port_name}, name
        assert _port(container, port_name) == _listening_port(container), name
        annotations = templates[name]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == _listening_port(container), name


def test_every_pod_runs_as_non_root_with_memory_bounded() -> None:
    for name, template in pod_templates(rendered()).items():
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True, name
        for container in template["spec"]["containers"]:
            resources = container["resources"]
            assert resources["requests"]["memory"] and resources["limits"]["memory"], name


def _matches(selector: dict[str, str], templates: dict[str, dict[str, Any]]) -> list[str]:
    return [n for n, t in templates.items() if selector.items() <= t["metadata"]["labels"].items()]


def test_selectors_services_and_disruption_budgets_match_pods() -> None:
    docs = rendered()
    templates = pod_templates(docs)
    for name, deployment in of_kind(docs, "Deployment").items():
        assert _matches(deployment["spec"]["selector"]["matchLabels"], {name: templates[name]}) == [name]
    for name, service in of_kind(docs, "Service").items():
        assert _matches(service["spec"]["selector"], templates) == [name], name
    budgets = of_kind(docs, "PodDisruptionBudget")
    assert set(budgets) == {"gateway", "worker", "worker-gpu", "drafter", "drafter-shadow", "media"}
    for name, budget in budgets.items():
        assert _matches(budget["spec"]["selector"]["matchLabels"], templates) == [name], name
    assert budgets["gateway"]["spec"]["minAvailable"] == 1


def test_keda_scales_workers_on_queues_they_serve() -> None:
    docs = rendered()
    containers = dict(helploop_containers(docs))
    scaled = of_kind(docs, "ScaledObject")
    assert set(scaled) == {"worker", "worker-gpu", "drafter", "drafter-shadow", "media"}
    served = set().union(*(served_queues(container) for container in containers.values()))
    assert served >= set(KNOWN_QUEUES), "every queue has workers"
    redis_service = f"{next(iter(of_kind(docs, 'StatefulSet')))}.helploop.svc:6379"
    for name, scaled_object in scaled.items():
        target = scaled_object["spec"]["scaleTargetRef"]["name"]
        assert target in of_kind(docs, "Deployment"), name
        spec = scaled_object["spec"]
        from_zero = name == "drafter-shadow"  # runs only while a generator is in shadow
        assert (0 if from_zero else 1) <= spec["minReplicaCount"] < spec["maxReplicaCount"], name
        for trigger in spec["triggers"]:
            assert trigger["type"] == "redis" and trigger["metadata"]["address"] == redis_service
            assert trigger["metadata"]["listName"] in served_queues(containers[target]), (name, trigger)
            assert int(trigger["metadata"]["listLength"]) > 0


def test_gpu_worker_requests_a_gpu_and_runs_the_gpu_image() -> None:
    gpu = pod_templates(rendered())["worker-gpu"]["spec"]
    container = gpu["containers"][0]
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "worker-gpu" in container["image"]
    assert any(t["key"] == "nvidia.com/gpu" for t in gpu["tolerations"])
    assert "nvidia.com/gpu" not in str(pod_templates(rendered("base")))


def test_operator_rules_equal_the_prometheus_rules_and_jobs_match() -> None:
    assert RULE_FILE.read_text() == render(), "run `make k8s-rules`"
    monitor = of_kind(rendered("monitoring"), "PodMonitor")["helploop"]["spec"]
    jobs = {
        t["metadata"]["labels"][monitor["jobLabel"]]
        for t in pod_templates(rendered()).values()
        if monitor["jobLabel"] in t["metadata"]["labels"]
    }
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert jobs == {job["job_name"] for job in scrape["scrape_configs"]} - {"celery-exporter"}
    ports = {endpoint["port"] for endpoint in monitor["podMetricsEndpoints"]}
    for name, container in helploop_containers(rendered()):
        assert not container.get("ports") or {p["name"] for p in container["ports"]} & ports, name


@pytest.mark.parametrize("image", ["gateway", "worker", "trainer"])
def test_images_are_multi_stage_and_run_as_a_non_root_user(image: str) -> None:
    text = (ROOT / "deploy" / "docker" / f"Dockerfile.{image}").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"], stages
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime and "pip install" not in runtime
    user = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}
    for source in re.findall(r"^COPY (?!--)(.+) \S+$", text, flags=re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile.{image} copies {path}, which does not exist"
