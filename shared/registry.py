"""The model registry: versioned bundle directories with a sha256 manifest, and an atomic active pointer.

Layout under the registry root:
    <version>/manifest.json, model.onnx, tokenizer.json, labels.json, metrics.json, ...
    active.json            {"version": "...", "activated_at": "..."}  (replaced atomically)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
ACTIVE_POINTER = "active.json"


class RegistryError(Exception):
    """A bundle is missing, incomplete or does not match its manifest."""


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def new_version_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def bundle_dir(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"invalid version id {version!r}")
        return self.root / version

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file()
        )

    def staging_dir(self) -> Path:
        """A scratch directory on the registry's filesystem, so `publish` is a rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))

    def manifest(self, version: str) -> dict[str, Any]:
        path = self.bundle_dir(version) / MANIFEST
        if not path.is_file():
            raise RegistryError(f"model version {version!r} not found in {self.root}")
        return json.loads(path.read_text())

    def active_version(self) -> str | None:
        path = self.root / ACTIVE_POINTER
        if not path.is_file():
            return None
        return json.loads(path.read_text()).get("version")

    def verify(self, version: str) -> dict[str, Any]:
        """Check every file of the bundle against the manifest's sha256; return the manifest."""
        manifest = self.manifest(version)
        bundle = self.bundle_dir(version)
        for name, expected in manifest["files"].items():
            path = bundle / name
            if not path.is_file():
                raise RegistryError(f"{version}: file {name} is missing")
            if sha256_file(path) != expected:
                raise RegistryError(f"{version}: file {name} does not match its sha256")
        return manifest

    def publish(self, staging: Path, *, version: str, manifest: dict[str, Any]) -> Path:
        """Hash every file in `staging`, write the manifest and move the bundle in atomically."""
        files = {
            str(p.relative_to(staging)): sha256_file(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        manifest = {**manifest, "version": version, "files": files}
        _write_json_atomic(staging / MANIFEST, manifest)
        target = self.bundle_dir(version)
        self.root.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise RegistryError(f"version {version} already exists")
        shutil.move(str(staging), str(target))
        log.info("published model %s to %s", version, target)
        return target

    def activate(self, version: str) -> None:
        self.verify(version)
        payload = {"version": version, "activated_at": datetime.now(UTC).isoformat()}
        _write_json_atomic(self.root / ACTIVE_POINTER, payload)
        log.info("activated model %s", version)
