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


def derived_child(registry: Registry, parent: str, suffix: str) -> str | None:
    """The version of `registry` that `derive_bundle(registry, parent, suffix=suffix, ...)` published, if
    any (its id ends in `-SUFFIX`, its manifest names the parent); callers verify it before use."""
    return next(
        (
            version
            for version in registry.versions()
            if version.endswith(f"-{suffix}") and registry.manifest(version).get("parent_version") == parent
        ),
        None,
    )


def copy_derived(source: Registry, target: Registry, parent: str, suffix: str) -> str | None:
    """`parent`'s `suffix` child from `source`, verified and copied into `target` (the same version id);
    None when `source` holds none, and the caller derives it itself."""
    version = derived_child(source, parent, suffix)
    if version is None:
        return None
    source.verify(version)
    shutil.copytree(source.bundle_dir(version), target.bundle_dir(version))
    return version
