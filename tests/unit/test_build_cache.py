"""The tests' build cache shared by a machine's checkouts: where it lives, and which builds it keeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

from tests import build_cache

MARKER = ".built"


def test_the_cache_lives_with_the_user_not_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HELPLOOP_TEST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build_cache.cache_root() == tmp_path / "xdg" / "helploop" / "tests"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert build_cache.cache_root() == Path.home() / ".cache" / "helploop" / "tests"
    monkeypatch.setenv("HELPLOOP_TEST_CACHE_DIR", str(tmp_path / "mine"))
    assert build_cache.cache_root() == (tmp_path / "mine").resolve()


def _entry(root: Path, name: str, used_at: float) -> Path:
    entry = root / name
    entry.mkdir()
    (entry / MARKER).touch()
    os.utime(entry / MARKER, (used_at, used_at))
    return entry


def test_prune_keeps_the_builds_used_last_and_one_another_run_holds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(build_cache, "BUILD_CACHE", tmp_path)
    entries = [_entry(tmp_path, f"models-{i}", 1_000_000 + i) for i in range(6)]  # models-5 used last
    other_fixture = _entry(tmp_path, "generators-0", 0)
    keep = entries[0]  # the one this run uses: never pruned, however old its mark
    held = FileLock(f"{entries[1]}.lock")
    with held:  # another test run is copying it
        build_cache.prune("models", keep=keep, marker=MARKER)
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    # keep + the KEEP_PER_NAME - 1 others used last, and the held one; another fixture's build untouched
    assert left == ["generators-0", "models-0", "models-1", "models-4", "models-5"]
    assert other_fixture.is_dir() and build_cache.KEEP_PER_NAME == 3
    build_cache.touch(entries[1], MARKER)  # used again (its lock free now): newest; models-4 oldest
    build_cache.prune("models", keep=keep, marker=MARKER)
    left = sorted(p.name for p in tmp_path.glob("models-*") if p.is_dir())
    assert left == ["models-0", "models-1", "models-5"]
