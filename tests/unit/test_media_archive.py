"""Zip attachments opened under limits counted while expanding: a bomb, an oversized member, too much in all,
too many members, paths out of the archive and archives inside archives are refused whole."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from shared.media.archive import ArchiveLimits, ArchiveRefused, open_zip

MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)


def zipped(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refused(content: bytes, limits: ArchiveLimits | None = None) -> str:
    with pytest.raises(ArchiveRefused) as caught:
        open_zip(content, limits)
    return caught.value.reason


def test_the_files_come_out_with_their_real_kinds() -> None:
    members = open_zip(zipped({"scans/receipt.txt": "订单 NW-12345".encode(), "photo.pdf": PNG, "dir/": b""}))
    assert [(m.name, m.kind) for m in members] == [
        ("scans/receipt.txt", "text/plain"),
        ("photo.pdf", "image/png"),
    ]


def test_a_bomb_is_refused_before_it_expands() -> None:
    bomb = zipped({"zeros.txt": b"\0" * (100 * MB)})  # ~100 KB on the wire
    assert len(bomb) < MB and refused(bomb) == "compression_ratio"


def test_sizes_are_counted_as_they_expand_not_read_from_the_headers() -> None:
    stored = zipfile.ZIP_STORED
    assert refused(zipped({"big.bin": os.urandom(11 * MB)}, stored)) == "member_too_large"  # 10 MB cap
    parts = {f"part{i}.bin": os.urandom(9 * MB) for i in range(6)}  # 54 MB, each under the member cap
    assert refused(zipped(parts, stored)) == "archive_too_large"
    assert len(open_zip(zipped(dict(list(parts.items())[:5]), stored))) == 5  # 45 MB: allowed


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"../../etc/cron.d/x": b"x"}, "unsafe_path"),
        ({"/etc/passwd": b"x"}, "unsafe_path"),
        ({"inner.zip": zipped({"a.txt": b"a"})}, "nested_archive"),
        ({f"f{i}.txt": b"x" for i in range(51)}, "too_many_members"),
    ],
)
def test_paths_out_nested_archives_and_member_floods_are_refused(
    files: dict[str, bytes], reason: str
) -> None:
    assert refused(zipped(files)) == reason


def test_what_is_not_a_zip_or_is_corrupt_is_refused() -> None:
    assert refused(b"%PDF-1.7 not a zip") == "not_an_archive"
    archive = bytearray(zipped({"a.txt": os.urandom(1000)}, zipfile.ZIP_STORED))
    archive[100] ^= 0xFF  # one byte of the member flipped: its CRC fails
    assert refused(bytes(archive)) == "unreadable"
