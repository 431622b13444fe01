"""docker-compose.yml without the engine: every helploop command exists, every HELPLOOP_* variable is a
setting, secrets are required (`${VAR:?...}`), Prometheus scrapes services that exist; and
`docker compose config` where the plugin is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helploop.cli.main import build_parser
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = ("HELPLOOP_WEBHOOK_SECRETS", "HELPLOOP_API_KEYS", "HELPLOOP_ADMIN_API_KEYS")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def helploop_commands() -> set[str]:
    parser = build_parser()
    return set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def test_every_service_runs_an_existing_helploop_command() -> None:
    known = helploop_commands()
    checked = 0
    for name, service in compose()["services"].items():
        argv = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        if argv[:1] == ["helploop"]:
            assert argv[1] in known, f"{name}: helploop {argv[1]} does not exist"
            checked += 1
    assert checked >= 7


def test_environment_names_are_settings_and_secrets_are_required() -> None:
    env = compose()["x-helploop-env"]
    fields = {f"HELPLOOP_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
    for name, service in compose()["services"].items():
        own = {k for k in service.get("environment") or {} if k.startswith("HELPLOOP_")}
        assert own <= fields, (name, own - fields)
    assert compose()["services"]["worker-gpu"]["environment"]["HELPLOOP_WORKER_POOL"] == "threads"
    for secret in SECRETS:
        assert re.fullmatch(r"\$\{" + secret + r":\?[^}]+\}", env[secret]), secret
    assert env["HELPLOOP_ENV"] == "prod"


def test_gpu_worker_reserves_a_gpu_and_redis_persists() -> None:
    services = compose()["services"]
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and services["worker-gpu"]["build"]["args"][
        "ORT_PACKAGE"
    ].startswith("onnxruntime-gpu")
    assert "--appendonly" in services["redis"]["command"]
    for name, service in services.items():
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"] in {"service_healthy", "service_completed_successfully"}, name


def test_prometheus_scrapes_services_that_exist() -> None:
    services = set(compose()["services"])
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            assert target.split(":")[0] in services, (job["job_name"], target)


def test_docker_compose_config_where_the_plugin_exists() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here")
    env = {**os.environ, **dict.fromkeys((*SECRETS, "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"), "x" * 20)}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
