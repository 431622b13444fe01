"""Registry operations shared by the CLI, the gateway and the training worker: describe, activate,
roll back, shadow — each announced to the workers (see shared.model_events)."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from shared.model_events import announce
from shared.registry import Registry

log = logging.getLogger(__name__)
CLASSIFIER = "classifier"


def _metrics(registry: Registry, version: str) -> dict[str, Any]:
    path = registry.bundle_dir(version) / "metrics.json"
    if not path.is_file():
        return {}
    return {"validation": json.loads(path.read_text()).get("validation")}


def describe_model(registry: Registry, version: str) -> dict[str, Any]:
    """What a person needs to pick a version: status, lineage, data, code and the headline metrics."""
    manifest = registry.manifest(version)
    training = manifest.get("training_config", {})
    return {
        "version": version,
        "status": registry.status(version),
        "created_at": manifest.get("created_at"),
        "parent_version": manifest.get("parent_version"),
        "code_version": manifest.get("code_version"),
        "dataset_fingerprint": manifest.get("dataset", {}).get("fingerprint"),
        "dataset": manifest.get("dataset"),
        "heads": list(training.get("head_columns", {}) or {}),
        "quantization": manifest.get("quantization"),
        "verdict": registry.verdict(version),
        "metrics": _metrics(registry, version),
    }


def list_models(registry: Registry) -> list[dict[str, Any]]:
    """Every version, newest first."""
    return [describe_model(registry, v) for v in reversed(registry.versions())]


def activate_model(
    *,
    registry: Registry,
    version: str,
    redis_client: redis.Redis | None,
    force: bool = False,
    kind: str = CLASSIFIER,
) -> dict[str, Any]:
    """`kind`: which registry this is (classifier, generator, encoder), named in the announcement."""
    previous = registry.activate(version, force=force)
    announce(redis_client, registry=kind, event="activated", version=version)
    return {"active": version, "previous": previous}


def rollback_model(
    *, registry: Registry, redis_client: redis.Redis | None, kind: str = CLASSIFIER
) -> dict[str, Any]:
    current = registry.active_version()
    target = registry.rollback()
    announce(redis_client, registry=kind, event="rolled_back", version=target)
    return {"active": target, "previous": current}


def set_shadow_model(
    *, registry: Registry, version: str | None, redis_client: redis.Redis | None, kind: str = CLASSIFIER
) -> dict[str, Any]:
    registry.set_shadow(version)
    announce(redis_client, registry=kind, event="shadow", version=version)
    return {"shadow": version, "active": registry.active_version()}
