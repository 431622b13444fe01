"""`helploop datasets fetch`: download the public benchmark sets from their origin into the datasets dir.

Each set is pinned: an origin repository on GitHub, a commit, and the sha256 of every file. A file is
streamed to a staging folder inside the datasets dir, hashed on the way, and moved into place with
`os.replace` only once every file of the set verifies; a failed or tampered download leaves nothing
behind. The layout is the one `services.trainer.datasets.prepare()` reads, so `helploop benchmark NAME`
works afterwards. Offline nothing changes: `prepare()` reads `HELPLOOP_DATASETS_DIR` as before, and this
module is only the way to fill it on a machine that is online.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from services.trainer.dataset_sources import (
    CATALOGUE,
    RAW_GITHUB,
    ChecksumError,
    FetchError,
    OfflineError,
    PublicDataset,
)

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 16
SOURCE_FILE = "SOURCE.md"
SOURCE_MARKER = "<!-- written by `helploop datasets fetch`; a later fetch replaces it -->"


@dataclass(frozen=True)
class FolderState:
    """What a datasets dir holds of one set: files absent, and files whose sha256 is not the pinned one."""

    folder: Path
    missing: tuple[str, ...]
    modified: tuple[str, ...]

    @property
    def verified(self) -> bool:
        return not self.missing and not self.modified

    @property
    def label(self) -> str:
        if self.verified:
            return "verified"
        if not self.modified and not self.folder.is_dir():
            return "absent"
        parts = [f"missing {', '.join(self.missing)}"] if self.missing else []
        parts += [f"changed {', '.join(self.modified)}"] if self.modified else []
        return "; ".join(parts)


@dataclass(frozen=True)
class FetchResult:
    name: str
    folder: Path
    downloaded: bool  # False: the files were already there and verified
    replaced: tuple[str, ...] = ()  # files that were there with another sha256, now replaced

    @property
    def summary(self) -> str:
        if not self.downloaded:
            return (
                f"{self.name}: already in {self.folder}, every file verified (sha256); nothing to do "
                "(--force downloads it again)"
            )
        note = f" (replaced {', '.join(self.replaced)}, whose sha256 differed)" if self.replaced else ""
        return f"{self.name}: downloaded and verified (sha256) into {self.folder}{note}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_state(dataset: PublicDataset, *, datasets_dir: Path) -> FolderState:
    folder = Path(datasets_dir) / dataset.folder
    missing = tuple(f.name for f in dataset.outputs if not (folder / f.name).is_file())
    modified = tuple(
        f.name for f in dataset.outputs if f.name not in missing and sha256_of(folder / f.name) != f.sha256
    )
    return FolderState(folder=folder, missing=missing, modified=modified)


def _offline(url: str, reason: object, *, dataset: PublicDataset, datasets_dir: Path) -> OfflineError:
    host = urlsplit(url).netloc or url
    return OfflineError(
        f"could not download {url} ({reason}). This machine seems offline, or {host} is not reachable "
        f"from it. Run it again where the network allows (or with --mirror URL, a mirror of "
        f"{RAW_GITHUB} with the same <owner>/<repo>/<commit>/<path> layout), or copy the "
        f"`{dataset.folder}` folder from a machine that has it into HELPLOOP_DATASETS_DIR "
        f"({datasets_dir}): `helploop benchmark {dataset.name}` reads it from there, no network needed."
    )


def _open(
    url: str, *, timeout: float, dataset: PublicDataset, datasets_dir: Path
) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": "helploop-datasets-fetch"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(
            f"{url} answered HTTP {exc.code} {exc.reason}: the server was reached but does not serve this "
            f"pinned file. With --mirror, check that the mirror keeps raw.githubusercontent.com's "
            f"<owner>/<repo>/<commit>/<path> layout."
        ) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, refused, TLS, reset
        reason = getattr(exc, "reason", exc)
        raise _offline(url, reason, dataset=dataset, datasets_dir=datasets_dir) from None


def _chunks(
    response: http.client.HTTPResponse, url: str, *, dataset: PublicDataset, datasets_dir: Path
) -> Iterator[bytes]:
    while True:
        try:
            chunk = response.read(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:  # a timeout or a reset mid-file
            raise _offline(url, exc, dataset=dataset, datasets_dir=datasets_dir) from None
        if not chunk:
            return
        yield chunk


def _mismatch(what: str, *, expected: str, got: str, source: str) -> ChecksumError:
    return ChecksumError(
        f"sha256 mismatch for {what} (from {source}): expected {expected}, got {got}. The file was "
        "deleted and nothing in the datasets dir changed. The server sent other bytes than the pinned "
        "commit holds: try again (a proxy or an interrupted transfer can do this), check --mirror, or "
        "copy a verified copy of the folder into HELPLOOP_DATASETS_DIR."
    )


def download(
    url: str, dest: Path, *, expected_sha256: str, dataset: PublicDataset, datasets_dir: Path, timeout: float
) -> None:
    """Stream `url` to `dest` with a progress bar on stderr, hashing it; a mismatch deletes `dest`."""
    log.info("downloading %s", url)
    digest = hashlib.sha256()
    label = f"{dataset.folder}/{dest.name}"
    response = _open(url, timeout=timeout, dataset=dataset, datasets_dir=datasets_dir)
    with response, dest.open("wb") as handle:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr)
        with bar:
            for chunk in _chunks(response, url, dataset=dataset, datasets_dir=datasets_dir):
                digest.update(chunk)
                handle.write(chunk)
                bar.update(len(chunk))
    got = digest.hexdigest()
    if got != expected_sha256:
        dest.unlink()
        raise _mismatch(label, expected=expected_sha256, got=got, source=url)


def source_markdown(dataset: PublicDataset, *, mirror: str) -> str:
    """The SOURCE.md written beside the files, so that their provenance travels with them."""
    fetched = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# {dataset.title}",
        "",
        SOURCE_MARKER,
        f"- Origin: {dataset.origin}",
        f"- Commit: {dataset.commit}",
        f"- Licence: {dataset.licence}",
        f"- Cite: {dataset.cite}",
        f"- Fetched: {fetched} from {mirror.rstrip('/')}, every file checked against its pinned sha256",
    ]
    lines += ["", "| file | sha256 | from |", "|---|---|---|"]
    for file in dataset.files:
        shown, note = (file.path, " (converted, not kept)") if dataset.rebuilt else (file.name, "")
        lines.append(f"| `{shown}` | `{file.sha256}` | {dataset.url(file)}{note} |")
    for file in dataset.rebuilt:
        lines.append(f"| `{file.name}` | `{file.sha256}` | rebuilt from the files above (dataset_fetch.py) |")
    return "\n".join(lines) + "\n"


def _stage(dataset: PublicDataset, staging: Path, *, mirror: str, datasets_dir: Path, timeout: float) -> None:
    """Download every file of the set into `staging`, verified; convert where the set needs it."""
    for file in dataset.files:
        url = dataset.url(file, mirror=mirror)
        download(
            url,
            staging / file.name,
            expected_sha256=file.sha256,
            dataset=dataset,
            datasets_dir=datasets_dir,
            timeout=timeout,
        )
    if dataset.convert is None:
        return
    dataset.convert(staging)
    for file in dataset.rebuilt:
        got = sha256_of(staging / file.name)
        if got != file.sha256:
            (staging / file.name).unlink()
            what = f"{dataset.folder}/{file.name} (rebuilt)"
            raise _mismatch(what, expected=file.sha256, got=got, source=dataset.origin)


def _install(dataset: PublicDataset, staging: Path, folder: Path, *, mirror: str) -> None:
    """Move the verified files into `folder` (each `os.replace` is atomic; the staging dir sits in the
    datasets dir, so on the same filesystem); other files there are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in dataset.outputs:
        os.replace(staging / file.name, folder / file.name)
    source = folder / SOURCE_FILE
    if source.exists() and SOURCE_MARKER not in source.read_text(encoding="utf-8", errors="replace"):
        log.info("kept the existing %s (not written by helploop datasets fetch)", source)
        return
    staged = staging / SOURCE_FILE
    staged.write_text(source_markdown(dataset, mirror=mirror), encoding="utf-8")
    os.replace(staged, source)


def _dataset(name: str, catalogue: dict[str, PublicDataset] | None) -> PublicDataset:
    known = CATALOGUE if catalogue is None else catalogue
    if name not in known:
        raise FetchError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    return known[name]


def fetch(
    name: str,
    *,
    datasets_dir: Path,
    mirror: str | None = None,
    force: bool = False,
    timeout: float = TIMEOUT_S,
    catalogue: dict[str, PublicDataset] | None = None,
) -> FetchResult:
    """Put the pinned files of `name` into `<datasets_dir>/<folder>`, verified; a no-op when they are
    there and verify (unless `force`). Raises FetchError (OfflineError, ChecksumError) with a message for
    the user; on any failure the datasets dir is as it was."""
    dataset = _dataset(name, catalogue)
    datasets_dir = Path(datasets_dir)
    mirror = mirror or RAW_GITHUB
    state = folder_state(dataset, datasets_dir=datasets_dir)
    if state.verified and not force:
        return FetchResult(name=name, folder=state.folder, downloaded=False)
    created = not datasets_dir.exists()
    try:
        datasets_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dataset.folder}.fetch-", dir=datasets_dir))
    except OSError as exc:
        raise FetchError(
            f"cannot write into {datasets_dir} ({exc}); pass --to DIR, a writable folder, and set "
            "HELPLOOP_DATASETS_DIR to it"
        ) from None
    done = False
    try:
        _stage(dataset, staging, mirror=mirror, datasets_dir=datasets_dir, timeout=timeout)
        _install(dataset, staging, state.folder, mirror=mirror)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not done:
            with contextlib.suppress(OSError):
                datasets_dir.rmdir()  # made by this call and now empty
    log.info("fetched %s into %s", name, state.folder)
    return FetchResult(name=name, folder=state.folder, downloaded=True, replaced=state.modified)


def describe(*, datasets_dir: Path, catalogue: dict[str, PublicDataset] | None = None) -> str:
    """A table of the public sets: state in `datasets_dir`, licence, origin (for `helploop datasets list`)."""
    known = CATALOGUE if catalogue is None else catalogue
    rows = [("NAME", "IN " + str(datasets_dir), "LICENCE", "ORIGIN")]
    for dataset in known.values():
        state = folder_state(dataset, datasets_dir=Path(datasets_dir))
        rows.append((dataset.name, state.label, dataset.licence.split(" (")[0], dataset.origin))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  ".join([*cells, row[3]]))
    if any(row[1] != "verified" for row in rows[1:]):
        lines.append("\nto get one: helploop datasets fetch NAME (online), or copy its folder there")
    return "\n".join(lines)


def next_command(names: list[str], *, datasets_dir: Path, configured: Path) -> str:
    """What to run next: `helploop benchmark NAME`, with HELPLOOP_DATASETS_DIR where --to differs."""
    prefix = ""
    if Path(datasets_dir).resolve() != Path(configured).resolve():
        prefix = f"HELPLOOP_DATASETS_DIR={datasets_dir} "
    return "\n".join(f"{prefix}helploop benchmark {name}" for name in names)
