"""The model registry: versioned bundle directories with a sha256 manifest, and an atomic active pointer.

Layout under the registry root:
    <version>/manifest.json, model.onnx, tokenizer.json, labels.json, metrics.json, ...
    active.json     {"version", "activated_at", "previous": [earlier active versions, newest first]}
    shadow.json     {"version", "set_at"}: a candidate run beside the active model on live tickets
    verdicts.json   {version: {"status": "rejected", "reasons": [...], "at": ...}}
Every pointer file is replaced atomically (write + rename); read-modify-write happens under a file lock,
so two concurrent activations never lose one another's history.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
ACTIVE_POINTER = "active.json"
SHADOW_POINTER = "shadow.json"
VERDICTS = "verdicts.json"
LOCK_FILE = ".lock"
MAX_HISTORY = 20


class RegistryError(Exception):
    """A bundle is missing, incomplete or does not match its manifest, or an operation is not allowed."""


class VersionNotFound(RegistryError, LookupError):
    """No such version in this registry."""


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
        """The version's directory; a name no directory can have (empty, a path, hidden, a NUL, longer than
        a file name may be: 255 bytes) is a version not found, not an error of the filesystem."""
        invalid = "/" in version or "\0" in version or version.startswith(".")
        if not version or invalid or len(version.encode("utf-8", "surrogatepass")) > 255:
            raise VersionNotFound(f"invalid version id {version[:80]!r}")
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

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A scratch bundle directory to fill and `publish`: removed when the block raises or ends without
        publishing it (a published bundle was moved away, so nothing is left to remove)."""
        path = self.staging_dir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def manifest(self, version: str) -> dict[str, Any]:
        path = self.bundle_dir(version) / MANIFEST
        if not path.is_file():
            raise VersionNotFound(f"model version {version!r} not found")
        return json.loads(path.read_text())

    def _read(self, name: str) -> dict[str, Any]:
        path = self.root / name
        return json.loads(path.read_text()) if path.is_file() else {}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def active_version(self) -> str | None:
        return self._read(ACTIVE_POINTER).get("version")

    def active_record(self) -> dict[str, Any]:
        """The active pointer: version, activated_at and the earlier active versions (newest first)."""
        return self._read(ACTIVE_POINTER)

    def shadow_version(self) -> str | None:
        return self._read(SHADOW_POINTER).get("version")

    def verdict(self, version: str) -> dict[str, Any] | None:
        return self._read(VERDICTS).get(version)

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

    def activate(self, version: str, *, force: bool = False) -> str | None:
        """Make `version` active (after checking its files); returns the version it replaced. A rejected
        version needs `force`. The previous version is remembered for `rollback`."""
        self.verify(version)
        if (verdict := self.verdict(version)) and not force:
            reasons = "; ".join(verdict.get("reasons", []))
            raise RegistryError(f"{version} was rejected by the quality gate ({reasons}); use force")
        with self._locked():
            record = self.active_record()
            previous = record.get("version")
            history = list(record.get("previous", []))
            if previous and previous != version:
                history = [previous, *[v for v in history if v != version]][:MAX_HISTORY]
            self._write_active(version, history)
            if self.shadow_version() == version:
                (self.root / SHADOW_POINTER).unlink(missing_ok=True)
        log.info("activated model %s (was %s)", version, previous)
        return previous

    def rollback(self) -> str:
        """Re-activate the version that was active before the current one; returns it."""
        with self._locked():
            record = self.active_record()
            history = [v for v in record.get("previous", []) if (self.root / v / MANIFEST).is_file()]
            if not history:
                raise RegistryError("nothing to roll back to: no earlier active version")
            target = history[0]
            self.verify(target)
            self._write_active(target, history[1:])
        log.info("rolled back model %s -> %s", record.get("version"), target)
        return target

    def _write_active(self, version: str, history: list[str]) -> None:
        payload = {"version": version, "activated_at": datetime.now(UTC).isoformat(), "previous": history}
        _write_json_atomic(self.root / ACTIVE_POINTER, payload)

    def set_shadow(self, version: str | None) -> None:
        """Run `version` beside the active model on live tickets (None: stop shadowing)."""
        if version is None:
            (self.root / SHADOW_POINTER).unlink(missing_ok=True)
            return
        self.verify(version)
        if version == self.active_version():
            raise RegistryError(f"{version} is the active model; a shadow must be another version")
        payload = {"version": version, "set_at": datetime.now(UTC).isoformat()}
        _write_json_atomic(self.root / SHADOW_POINTER, payload)
        log.info("model %s runs in shadow", version)

    def reject(self, version: str, reasons: list[str]) -> None:
        """Mark a candidate as rejected by the quality gate (kept for inspection, never activated)."""
        self.manifest(version)
        with self._locked():
            verdicts = self._read(VERDICTS)
            verdicts[version] = {
                "status": "rejected",
                "reasons": reasons,
                "at": datetime.now(UTC).isoformat(),
            }
            _write_json_atomic(self.root / VERDICTS, verdicts)

    def status(self, version: str) -> str:
        """active | shadow | rejected | previous (was active; a rollback target) | candidate"""
        record = self.active_record()
        if version == record.get("version"):
            return "active"
        if version == self.shadow_version():
            return "shadow"
        if self.verdict(version):
            return "rejected"
        return "previous" if version in record.get("previous", []) else "candidate"
