"""What a file is, from its first bytes — never from its name or a Content-Type header, which the sender
chooses. The kinds attachments arrive as: images (OCR), PDFs, audio (speech), archives (refused or opened
under limits), plain text."""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"
_MAGIC = (  # (offset, bytes, kind); the first match wins
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
)
_RIFF = {b"WAVE": "audio/wav", b"WEBP": "image/webp"}


def sniff(content: bytes) -> str:
    """The MIME type `content` really is (OCTET_STREAM when unknown); UTF-8 without NULs is text/plain."""
    if content[:4] == b"RIFF" and content[8:12] in _RIFF:
        return _RIFF[content[8:12]]
    if content[:2] == b"BM" and content[6:10] == b"\x00\x00\x00\x00":  # reserved bytes of a bitmap header
        return "image/bmp"
    if content[4:8] == b"ftyp":
        return "audio/mp4" if content[8:11] in (b"M4A", b"M4B") else "video/mp4"
    for offset, magic, kind in _MAGIC:
        if content[offset : offset + len(magic)] == magic:
            return kind
    head = content[:4096]
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:  # a multi-byte character cut at the end of the sample is fine
                return OCTET_STREAM
        return "text/plain"
    return OCTET_STREAM
