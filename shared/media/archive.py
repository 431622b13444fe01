"""Opening a zip attachment without being opened by it: members are read under limits that hold whatever
the archive's headers claim — a member count, a size per member and in all (counted while decompressing,
not taken from the headers), a compression ratio — with no nested archives and no paths leaving the
archive. Anything beyond a limit refuses the whole archive (`ArchiveRefused`) before it is expanded."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from shared.media.refusal import Refused
from shared.media.sniff import sniff

CHUNK = 64 * 1024
ARCHIVES = frozenset({"application/zip", "application/gzip"})


class ArchiveRefused(Refused):
    """An archive beyond its limits, or unsafe, or unreadable."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 50
    max_member_bytes: int = 10 * 1024 * 1024
    max_total_bytes: int = 50 * 1024 * 1024
    max_ratio: float = 100.0  # uncompressed / compressed, per member


@dataclass(frozen=True)
class Member:
    name: str
    content: bytes
    kind: str


def _safe_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ArchiveRefused("unsafe_path", name[:200])
    return str(path)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits, budget: int) -> bytes:
    """The member's bytes, counted as they expand: the member, total and ratio limits hold as it is read."""
    cap = min(limits.max_member_bytes, budget)
    ceiling = max(info.compress_size, 1) * limits.max_ratio
    chunks, size = [], 0
    with archive.open(info) as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            if size > cap:
                reason = "member_too_large" if cap == limits.max_member_bytes else "archive_too_large"
                raise ArchiveRefused(reason, f"{info.filename}: more than {cap} bytes")
            if size > ceiling:
                raise ArchiveRefused("compression_ratio", f"{info.filename}: over {limits.max_ratio:.0f}:1")
            chunks.append(chunk)
    return b"".join(chunks)


def open_zip(content: bytes, limits: ArchiveLimits | None = None) -> list[Member]:
    """The files of a zip archive (directories skipped) under `limits`; ArchiveRefused says why not."""
    limits = limits or ArchiveLimits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise ArchiveRefused("not_an_archive", str(exc)) from exc
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > limits.max_members:
            raise ArchiveRefused("too_many_members", f"{len(infos)} > {limits.max_members}")
        try:
            return _members(archive, infos, limits)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
            raise ArchiveRefused("unreadable", str(exc)[:200]) from exc  # CRC, encryption, method


def _members(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> list[Member]:
    members, total = [], 0
    for info in infos:
        name = _safe_name(info.filename)
        data = _read(archive, info, limits, limits.max_total_bytes - total)
        total += len(data)
        kind = sniff(data)
        if kind in ARCHIVES:
            raise ArchiveRefused("nested_archive", name)
        members.append(Member(name, data, kind))
    return members
