"""`helploop datasets fetch` against a real HTTP server laid out like raw.githubusercontent.com
(<owner>/<repo>/<commit>/<path>), passed as --mirror. The end-to-end test serves the local copies from
HELPLOOP_DATASETS_DIR (for CAIS, origin-format files generated from its CSVs) and skips where they are
absent; the failure paths use a small made-up dataset and run everywhere."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helploop.cli.main import build_parser, main
from services.trainer.dataset_fetch import fetch, folder_state
from services.trainer.dataset_sources import (
    CATALOGUE,
    ChecksumError,
    FetchError,
    OfflineError,
    PinnedFile,
    PublicDataset,
    rebuild_cais,
)
from services.trainer.datasets import DATASETS, prepare
from shared.settings import get_settings
from tests.conftest import REPO_ROOT

LOCAL = Path(os.environ.get("HELPLOOP_DATASETS_DIR", REPO_ROOT.parent / "shared" / "datasets"))
TINY_FILES = {"data/a.csv": b"text,label\r\nhello,greeting\r\n", "data/b.json": b'{"greeting": ["hello"]}\n'}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TINY = PublicDataset(
    name="tiny",
    title="Tiny",
    folder="tiny",
    repo="someone/tiny",
    commit="0123456789abcdef0123456789abcdef01234567",
    licence="CC0 (test)",
    cite="-",
    files=tuple(PinnedFile(path, _sha(data)) for path, data in TINY_FILES.items()),
)


@contextmanager
def serve(root: Path) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on a free local port serving `root`; yields its URL and the paths asked for."""
    asked: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            asked.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _publish(root: Path, dataset: PublicDataset, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / dataset.repo / dataset.commit / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".fetch-" in p.name] if directory.is_dir() else []


def _cais_origin(csv_path: Path) -> tuple[bytes, bytes]:
    """CAIS's origin format from a rebuilt CSV: one character + " O" a line, a blank line between
    utterances; and the intents, one a line."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chars = "\n".join("".join(f"{char} O\n" for char in row["text"]) for row in rows)
    intents = "".join(f"{row['label']}\n" for row in rows)
    return chars.encode("utf-8"), intents.encode("utf-8")


@pytest.fixture(scope="module")
def local() -> Path:
    if not LOCAL.is_dir():
        pytest.skip(f"no public datasets at {LOCAL} (set HELPLOOP_DATASETS_DIR)")
    unverified = [n for n, d in CATALOGUE.items() if not folder_state(d, datasets_dir=LOCAL).verified]
    if unverified:
        pytest.skip(f"the copies in {LOCAL} of {', '.join(unverified)} are absent or not the pinned ones")
    return LOCAL


@pytest.fixture(scope="module")
def origin(local: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, PublicDataset]]:
    """A mirror serving every public set; and CAIS pinned to the origin files generated here (its rebuilt
    CSVs keep the real pins)."""
    root = tmp_path_factory.mktemp("origin")
    for dataset in CATALOGUE.values():
        if dataset.convert is None:
            files = {f.path: (local / dataset.folder / f.name).read_bytes() for f in dataset.files}
            _publish(root, dataset, files)
    cais = CATALOGUE["cais_zh"]
    generated: dict[str, bytes] = {}
    for split in ("train", "valid", "test"):
        chars, intents = _cais_origin(local / cais.folder / f"{split}.csv")
        generated |= {f"CAIS/{split}/ch.{split}": chars, f"CAIS/{split}/ch.{split}.intent": intents}
    _publish(root, cais, generated)
    cais = dataclasses.replace(cais, files=tuple(PinnedFile(p, _sha(d)) for p, d in generated.items()))
    with serve(root) as (url, _):
        yield url, cais


@pytest.fixture()
def settings_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point HELPLOOP_DATASETS_DIR (the settings' datasets_dir) somewhere for one CLI call."""

    def point(directory: Path) -> None:
        monkeypatch.setenv("HELPLOOP_DATASETS_DIR", str(directory))
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


def test_fetch_all_then_prepare_gives_the_local_copies_jsonl(
    origin: tuple[str, PublicDataset],
    local: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings_dir: Any,
) -> None:
    url, cais = origin
    monkeypatch.setitem(CATALOGUE, "cais_zh", cais)
    fetched = tmp_path / "datasets"
    settings_dir(fetched)
    assert main(["datasets", "fetch", "all", "--mirror", url]) == 0
    out = capsys.readouterr().out
    assert [f"helploop benchmark {name}" in out.splitlines() for name in DATASETS] == [True] * 4
    assert out.count("downloaded and verified") == 4 and not _leftovers(fetched)
    assert sorted(p.name for p in (fetched / "cais_zh").iterdir()) == [
        "SOURCE.md",
        "test.csv",
        "train.csv",
        "valid.csv",
    ]
    for name in DATASETS:
        ours = prepare(name, datasets_dir=fetched, out_dir=tmp_path / "from_fetch")
        theirs = prepare(name, datasets_dir=local, out_dir=tmp_path / "from_local")
        assert ours.keys() == theirs.keys()
        for split, path in ours.items():
            assert path.read_bytes() == theirs[split].read_bytes(), (name, split)
    source = (fetched / "banking77" / "SOURCE.md").read_text()
    assert CATALOGUE["banking77"].commit in source and "CC BY 4.0" in source
    assert main(["datasets", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in listing[1:5]] == ["verified"] * 4
    assert main(["datasets", "fetch", "banking77", "--mirror", url]) == 0  # already there: a no-op
    assert "nothing to do" in capsys.readouterr().out


def test_second_fetch_is_a_no_op_a_changed_file_is_replaced_and_force_downloads(tmp_path: Path) -> None:
    _publish(tmp_path / "origin", TINY, TINY_FILES)
    catalogue = {"tiny": TINY}
    to = tmp_path / "datasets"
    with serve(tmp_path / "origin") as (url, asked):
        first = fetch("tiny", datasets_dir=to, mirror=url, catalogue=catalogue)
        assert first.downloaded and len(asked) == 2
        assert (to / "tiny" / "a.csv").read_bytes() == TINY_FILES["data/a.csv"]
        assert "someone/tiny/tree/0123456789abcdef" in (to / "tiny" / "SOURCE.md").read_text()
        asked.clear()
        again = fetch("tiny", datasets_dir=to, mirror=url, catalogue=catalogue)
        assert not again.downloaded and asked == [] and "nothing to do" in again.summary
        (to / "tiny" / "a.csv").write_text("edited\n")
        (to / "tiny" / "notes.txt").write_text("mine\n")
        repaired = fetch("tiny", datasets_dir=to, mirror=url, catalogue=catalogue)
        assert repaired.downloaded and repaired.replaced == ("a.csv",)
        assert folder_state(TINY, datasets_dir=to).verified and (to / "tiny" / "notes.txt").exists()
        asked.clear()
        assert fetch("tiny", datasets_dir=to, mirror=url, force=True, catalogue=catalogue).downloaded
        assert len(asked) == 2 and not _leftovers(to)


def test_a_tampered_file_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    tampered = {**TINY_FILES, "data/b.json": b'{"greeting": ["hello", "evil"]}\n'}
    _publish(tmp_path / "origin", TINY, tampered)
    to = tmp_path / "datasets"
    (to / "tiny").mkdir(parents=True)
    (to / "tiny" / "a.csv").write_text("an older copy\n")
    with serve(tmp_path / "origin") as (url, _), pytest.raises(ChecksumError) as refused:
        fetch("tiny", datasets_dir=to, mirror=url, catalogue={"tiny": TINY})
    message = str(refused.value)
    assert "tiny/b.json" in message and "sha256 mismatch" in message
    assert TINY.files[1].sha256 in message and _sha(tampered["data/b.json"]) in message
    assert sorted(p.name for p in to.iterdir()) == ["tiny"] and not _leftovers(to)
    assert [p.name for p in (to / "tiny").iterdir()] == ["a.csv"]
    assert (to / "tiny" / "a.csv").read_text() == "an older copy\n"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_says_offline_and_how_to_go_on(tmp_path: Path) -> None:
    mirror = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(OfflineError) as offline:
        fetch("tiny", datasets_dir=tmp_path, mirror=mirror, catalogue={"tiny": TINY})
    assert "seems offline" in str(offline.value) and "HELPLOOP_DATASETS_DIR" in str(offline.value)
    assert list(tmp_path.iterdir()) == []
    to = tmp_path / "datasets"
    command = [sys.executable, "-m", "helploop.cli.main", "datasets", "fetch", "banking77"]
    env = {**os.environ, "HELPLOOP_DATASETS_DIR": str(to)}
    done = subprocess.run(
        [*command, "--mirror", mirror], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "seems offline" in done.stderr and "copy the `banking77` folder" in done.stderr
    assert not to.exists()  # made for the download, removed with it


def test_a_server_that_never_answers_times_out_as_offline(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mirror = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(OfflineError, match="seems offline"):
            fetch("tiny", datasets_dir=tmp_path, mirror=mirror, timeout=0.3, catalogue={"tiny": TINY})
    assert not _leftovers(tmp_path)


def test_a_mirror_without_the_file_names_the_http_status(tmp_path: Path) -> None:
    (tmp_path / "origin").mkdir()
    (tmp_path / "datasets").mkdir()
    with serve(tmp_path / "origin") as (url, _), pytest.raises(FetchError, match="HTTP 404"):
        fetch("tiny", datasets_dir=tmp_path / "datasets", mirror=url, catalogue={"tiny": TINY})
    assert list((tmp_path / "datasets").iterdir()) == []


def test_cais_origin_lines_are_read_like_the_local_copies(tmp_path: Path) -> None:
    """The first token of a line is the character, so a space's line ("  O") gives "O", as in the copies
    in ../shared/datasets; a trailing blank line or none, either way."""
    for split in ("train", "valid", "test"):
        (tmp_path / f"ch.{split}").write_text("播 O\n放 O\n  O\n歌 S-song_name\n\n好 O\n,  O\n\n")
        (tmp_path / f"ch.{split}.intent").write_text("PlayMusic\nChat")
    rebuild_cais(tmp_path)
    expected = 'text,label\r\n播放O歌,PlayMusic\r\n"好,",Chat\r\n'
    assert (tmp_path / "test.csv").read_bytes() == expected.encode()
    (tmp_path / "ch.valid.intent").write_text("PlayMusic\n")
    with pytest.raises(FetchError, match=r"2 utterances in ch\.valid but 1 intents"):
        rebuild_cais(tmp_path)


def test_datasets_prepare_cli_still_works(
    local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], settings_dir: Any
) -> None:
    args = build_parser().parse_args(["datasets", "prepare", "banking77"])
    assert (args.action, args.name, args.out) == ("prepare", "banking77", "var/data")
    settings_dir(local)
    assert main(["datasets", "prepare", "banking77", "--out", str(tmp_path)]) == 0
    assert '"test"' in capsys.readouterr().out
    assert len((tmp_path / "banking77" / "test.jsonl").read_text().splitlines()) == 3080


def test_fetch_cli_parses_names_and_options() -> None:
    args = build_parser().parse_args(["datasets", "fetch", "cais_zh", "clinc150", "--to", "d", "--force"])
    assert (args.names, args.to, args.force, args.mirror, args.timeout) == (
        ["cais_zh", "clinc150"],
        "d",
        True,
        None,
        30.0,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["datasets", "fetch", "nlupp"])
