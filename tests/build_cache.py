"""Models the tests train, kept across test runs: a bundle is built again only when what could change it
changed — the repository's Python modules the build can run (the import closure of its entry modules,
lazy imports included, recorded with their sha256 in the entry's `sources.json` and checked at each use),
the data files of `services/trainer/` and `shared/runtime/`,
the locked dependencies, or the fixture's own config and data (the entry's name). A cached bundle is
what this checkout would build (training is seeded; tests check properties of a bundle, never fixed
numbers); an edit elsewhere (the gateway, the workers, the learning loop) keeps it.

Kept outside the checkout, in `<cache root>/test-builds/<name>-<key>/` (`cache_root`: like pip's cache,
one per machine user, so every clone and worktree of this machine — CI's fresh clone of main included —
reuses what another built; `make clean-test-cache` removes it). A build of a name unused for longest goes
when a name holds more than `KEEP_PER_NAME` (checkouts at other commits keep theirs);
`HELPLOOP_TEST_BUILD_CACHE=off` builds everything afresh in each run, as a brand-new machine does."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

ROOT = Path(__file__).resolve().parents[1]


def cache_root() -> Path:
    """What the tests build and convert, shared by this user's checkouts: `HELPLOOP_TEST_CACHE_DIR`, else
    `$XDG_CACHE_HOME/helploop/tests`, else `~/.cache/helploop/tests`."""
    explicit = os.environ.get("HELPLOOP_TEST_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "helploop" / "tests"


CACHE_ROOT = cache_root()  # also the converted base weights (tests/conftest.py MODEL_CACHE)
BUILD_CACHE = CACHE_ROOT / "test-builds"
KEEP_PER_NAME = 3  # builds kept of one name (a fixture): enough for a few checkouts at other commits
PACKAGES = ("services", "shared")  # the repository's code: what a build may have imported
DATA_DIRS = ("services/trainer", "shared/runtime")  # files other than Python a build may read
PINNED = ("requirements-lock.txt", "pyproject.toml")
SOURCES_FILE = "sources.json"


def enabled() -> bool:
    return os.environ.get("HELPLOOP_TEST_BUILD_CACHE", "on").lower() not in ("off", "0", "false", "no")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _canonical(value: Any) -> Any:
    """JSON-ready, with every existing file replaced by its content's sha256 (a tmp path never counts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        return _sha(value) if value.is_file() else value.name
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


def cached_dir(name: str, *parts: Any) -> Path:
    """The entry for a build of `name` from `parts` (configs, data files) under the pinned dependencies."""
    digest = hashlib.sha256(json.dumps(_canonical([name, *parts]), sort_keys=True).encode())
    for pinned in PINNED:
        digest.update(_sha(ROOT / pinned).encode())
    return BUILD_CACHE / f"{name}-{digest.hexdigest()[:16]}"


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(file: Path, module: str) -> set[str]:
    """Every module `file` imports, at the top or inside a function (lazy imports count)."""
    names: set[str] = set()
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def import_closure(entries: tuple[str, ...]) -> set[Path]:
    """The repository files `entries` can run: their imports, followed through services/ and shared/."""
    seen: dict[str, Path] = {}
    todo = list(entries)
    while todo:
        name = todo.pop()
        file = _module_file(name)
        if file is None or name in seen:
            continue
        seen[name] = file
        parents = name.split(".")
        todo.extend(".".join(parents[:i]) for i in range(1, len(parents)))  # packages' __init__ run too
        todo.extend(_imported_names(file, name))
    return set(seen.values())


def _sources(entries: tuple[str, ...]) -> dict[str, str]:
    """sha256 of the code a build can run, and of the data files it may read."""
    files = {p.relative_to(ROOT) for p in import_closure(entries)}
    for folder in DATA_DIRS:
        files.update(
            p.relative_to(ROOT)
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
        )
    return {str(f): _sha(ROOT / f) for f in sorted(files)}


def is_current(entry: Path, marker: str) -> bool:
    """Built, and none of the sources it was built from changed (or went)."""
    if not (entry / marker).is_file() or not (entry / SOURCES_FILE).is_file():
        return False
    recorded: dict[str, str] = json.loads((entry / SOURCES_FILE).read_text())
    return all((ROOT / f).is_file() and _sha(ROOT / f) == sha for f, sha in recorded.items())


def record_sources(entry: Path, code: tuple[str, ...]) -> None:
    """After a build: what it was built from (`code`: the modules the build calls into)."""
    (entry / SOURCES_FILE).write_text(json.dumps(_sources(code), indent=1))


def touch(entry: Path, marker: str) -> None:
    """Record a use: the marker's mtime orders the builds of a name for `prune`."""
    (entry / marker).touch()


def prune(name: str, keep: Path, marker: str) -> None:
    """Builds of `name` beyond the `KEEP_PER_NAME` used most recently go, `keep` never, nor one another
    test run holds the lock of (it is being built or copied)."""
    others = [old for old in BUILD_CACHE.glob(f"{name}-*") if old.is_dir() and old != keep]
    others.sort(key=lambda old: (old / marker).stat().st_mtime if (old / marker).is_file() else 0.0)
    for old in others[: max(0, len(others) - (KEEP_PER_NAME - 1))]:
        try:
            with FileLock(f"{old}.lock", timeout=0):
                shutil.rmtree(old, ignore_errors=True)
        except Timeout:
            continue
        Path(f"{old}.lock").unlink(missing_ok=True)
