"""Derived bundles (fused, quantized): a copy of a registered bundle with its graph rewritten, published as
a new version that records its parent."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.trainer.assessment import resolve_version
from shared.registry import MANIFEST, Registry, new_version_id

# (the parent's bundle directory, the staging copy to rewrite) -> fields to add to the manifest
Rewrite = Callable[[Path, Path], dict[str, Any]]


def derive_bundle(registry: Registry, model: str, *, suffix: str, rewrite: Rewrite) -> tuple[str, str]:
    """Copy `model`'s bundle to staging, let `rewrite` change it, publish as `<id>-<suffix>`.
    Returns (parent version, new version); nothing is published when `rewrite` raises."""
    parent = resolve_version(registry, model)
    manifest = registry.verify(parent)
    with registry.staging() as staging:
        shutil.copytree(registry.bundle_dir(parent), staging, dirs_exist_ok=True)
        (staging / MANIFEST).unlink()
        extra = rewrite(registry.bundle_dir(parent), staging)
        version = f"{new_version_id()}-{suffix}"
        derived = {k: v for k, v in manifest.items() if k not in ("files", "version")}
        derived.update(parent_version=parent, **extra)
        registry.publish(staging, version=version, manifest=derived)
    return parent, version
