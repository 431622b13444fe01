"""PDF attachments: the embedded text of each page, scanned (textless) pages listed, page and character
caps, encrypted and broken files refused, and a flate bomb stopped at the stream limit."""

from __future__ import annotations

import io
import zlib

import pytest
from pypdf import PdfWriter

from shared.media.pdf import PdfLimits, PdfRefused, pdf_text
from shared.media.sniff import sniff


def pdf(pages: list[bytes | None], *, compress: bool = False) -> bytes:
    """A minimal PDF: one page per entry, its content stream showing the text (None: a page without text)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids, first_page = [], 3
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    for index, text in enumerate(pages):
        page_id, stream_id = first_page + 2 * index, first_page + 2 * index + 1
        kids.append(f"{page_id} 0 R".encode())
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 "
            + f"{first_page + 2 * len(pages)} 0 R >> >> /Contents {stream_id} 0 R >>".encode()
        )
        body = b"" if text is None else b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
        if compress:
            data = zlib.compress(body, 9)
            objects.append(
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
            )
        else:
            objects.append(b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream")
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(pages)
    objects.append(font)
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_each_pages_text_comes_out_and_scanned_pages_are_listed() -> None:
    document = pdf([b"Invoice for order NW-12345", None, b"Error code E-402 at checkout"])
    assert sniff(document) == "application/pdf"
    result = pdf_text(document)
    assert "NW-12345" in result.text and "E-402" in result.text
    assert (result.pages, result.pages_read, result.pages_without_text, result.truncated) == (
        3,
        3,
        (2,),
        False,
    )


def test_page_and_character_caps_cut_it_short() -> None:
    document = pdf([f"Page {i} order NW-{10000 + i}".encode() for i in range(30)])
    capped = pdf_text(document, PdfLimits(max_pages=5))
    assert (capped.pages, capped.pages_read, capped.truncated) == (30, 5, True) and "NW-10004" in capped.text
    assert "NW-10005" not in capped.text
    short = pdf_text(document, PdfLimits(max_chars=40))
    assert len(short.text.replace("\n", "")) <= 40 and short.truncated and short.pages_read == 2


def test_a_flate_bomb_stops_at_the_stream_limit() -> None:
    bomb = pdf([b"A" * (60 * 1024 * 1024)], compress=True)  # 60 MB of text in a stream of ~60 KB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(PdfRefused) as refused:
        pdf_text(bomb, PdfLimits(max_stream_bytes=5 * 1024 * 1024))
    assert refused.value.reason == "too_large"


def test_broken_and_encrypted_files_are_refused() -> None:
    with pytest.raises(PdfRefused, match="unreadable"):
        pdf_text(b"%PDF-1.4\nthis is not a PDF body")
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(PdfRefused, match="encrypted"):
        pdf_text(buffer.getvalue())
