"""Attachment downloads against a real local HTTP server: only allowed hosts, no private addresses (also
after DNS answers one address and the connection reaches another), redirects checked hop by hop, a size
cap that stops reading at the cap, types sniffed from the bytes; the content-addressed store."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.media.fetch import FetchPolicy, FetchRefused, check_url, fetch
from shared.media.sniff import sniff
from shared.media.store import MediaStore

MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"x" * 100


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        port = self.server.server_address[1]
        routes = {
            "/screenshot.pdf": (200, {}, PNG),  # named .pdf, is a PNG
            "/invoice": (200, {}, PDF),
            "/to-invoice": (302, {"Location": "/invoice"}, b""),
            "/elsewhere": (302, {"Location": f"http://127.0.0.2:{port}/invoice"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/missing": (404, {}, b"no"),
        }
        if self.path.startswith("/bytes/"):  # /bytes/N[?declared]: N bytes, streamed without a length
            return self._stream(int(self.path.split("/")[2].split("?")[0]), "declared" in self.path)
        status, headers, body = routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, size: int, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Length" if declared else "Connection", str(size) if declared else "close")
        self.end_headers()
        sent = 0
        try:
            while sent < size:
                chunk = b"a" * min(MB, size - sent)
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading at its cap
            pass
        self.server.sent.append(sent)  # type: ignore[attr-defined]

    def log_message(self, *_: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    sent: list[int]  # bytes written by each streamed answer before it ended or the client hung up


@pytest.fixture(scope="module")
def httpd() -> Iterator[Server]:
    server = Server(("127.0.0.1", 0), Handler)
    server.sent = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def server(httpd: Server) -> str:
    return f"http://localhost:{httpd.server_address[1]}"


LOCAL = FetchPolicy(allowed_hosts=frozenset({"localhost"}), allow_private=True)  # an on-premises helpdesk


def test_the_type_is_the_bytes_not_the_name_and_redirects_on_the_host_are_followed(server: str) -> None:
    got = fetch(f"{server}/screenshot.pdf", policy=LOCAL)
    assert (got.kind, got.sha256) == ("image/png", hashlib.sha256(PNG).hexdigest())
    followed = fetch(f"{server}/to-invoice", policy=LOCAL)
    assert followed.kind == "application/pdf" and followed.url.endswith("/invoice")


def test_private_addresses_are_refused_unless_allowed(server: str) -> None:
    public_only = FetchPolicy(allowed_hosts=frozenset({"localhost", "169.254.169.254", "::ffff:127.0.0.1"}))
    with pytest.raises(FetchRefused) as refused:
        fetch(f"{server}/invoice", policy=public_only)  # localhost: loopback
    assert refused.value.reason == "private_address"
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/"):  # cloud metadata
        with pytest.raises(FetchRefused, match="private_address"):
            check_url(url, public_only)


def test_an_address_that_changes_after_the_check_is_refused_too(server: str) -> None:
    """DNS rebinding: the check is told a public address, the connection reaches loopback."""
    public_only = FetchPolicy(allowed_hosts=frozenset({"localhost"}))
    with pytest.raises(FetchRefused) as refused:
        fetch(f"{server}/invoice", policy=public_only, resolve=lambda host, port: ["93.184.216.34"])
    assert refused.value.reason == "private_address" and "127.0.0.1" in refused.value.detail


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/elsewhere", "host_not_allowed"), ("/loop", "too_many_redirects"), ("/missing", "http_error")],
)
def test_redirects_to_other_hosts_loops_and_errors_are_refused(server: str, path: str, reason: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        fetch(f"{server}{path}", policy=LOCAL)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://localhost/x", "bad_url"),
        ("http://user:pw@localhost/x", "bad_url"),
        ("http://evil.example/x", "host_not_allowed"),
    ],
)
def test_other_schemes_credentials_in_urls_and_other_hosts_are_refused(url: str, reason: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        check_url(url, LOCAL)
    assert refused.value.reason == reason


def test_the_cap_lets_ten_megabytes_through_and_stops_reading_eleven(server: str, httpd: Server) -> None:
    capped = FetchPolicy(allowed_hosts=frozenset({"localhost"}), allow_private=True, max_bytes=10 * MB)
    assert len(fetch(f"{server}/bytes/{10 * MB}", policy=capped).content) == 10 * MB
    with pytest.raises(FetchRefused, match="too_large"):
        fetch(f"{server}/bytes/{11 * MB}?declared", policy=capped)  # refused on its Content-Length
    with pytest.raises(FetchRefused, match="too_large"):
        fetch(f"{server}/bytes/{200 * MB}", policy=capped)  # no length: reading stops past the cap
    deadline = time.monotonic() + 10
    while len(httpd.sent) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert max(httpd.sent) < 20 * MB  # the client hung up just past the cap: 200 MB were never sent


def test_sniffing_knows_the_attachment_kinds() -> None:
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt "
    assert [sniff(b) for b in (PNG, PDF, wav, b"\xff\xd8\xff\xe0", b"PK\x03\x04", "订单 NW-1".encode())] == [
        "image/png",
        "application/pdf",
        "audio/wav",
        "image/jpeg",
        "application/zip",
        "text/plain",
    ]
    assert sniff(b"\x00\x01\x02garbage") == "application/octet-stream"
    assert sniff(b"BMW order NW-1") == "text/plain"  # "BM" alone is no bitmap


def test_the_store_keeps_one_copy_per_content_and_purges_by_age(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    digest = hashlib.sha256(PDF).hexdigest()
    path = store.put(digest, PDF)
    assert store.put(digest, PDF) == path and store.get(digest) == PDF
    assert path.relative_to(tmp_path).parts == (digest[:2], digest)
    with pytest.raises(ValueError):
        store.put(digest, PNG)  # the digest is checked
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
    old = time.time() - 40 * 86400
    os.utime(path, (old, old))
    assert store.purge(older_than_days=30) == 1 and not path.exists()
