"""A local HTTP server standing in for a helpdesk's REST API: it records every call (method, path,
headers, body), answers scripted failures, stores posted notes per ticket and lists them back in each
provider's shape (Zendesk `{"comments"}`, Jira `{"values"}`, Zammad and Freshdesk bare lists). Zammad's
tags too: `POST /api/v1/tags/add` stores a ticket's tag, `GET /api/v1/tags?object=Ticket&o_id=<id>`
answers `{"tags": [...]}` (docs.zammad.org, API → Ticket → Tags); a test edits `tags` as an agent would."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TICKET_PATHS = [
    (re.compile(r"^/api/v2/tickets/([^/.]+)(?:\.json|/comments\.json)$"), "zendesk", "comments"),
    (re.compile(r"^/api/v1/ticket_articles/by_ticket/([^/]+)$"), "zammad", None),
    (re.compile(r"^/api/v2/tickets/([^/]+)/(?:notes|reply|conversations)$"), "freshdesk", None),
    (re.compile(r"^/rest/servicedeskapi/request/([^/]+)/comment$"), "jira", "values"),
]


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Script:
    method: str
    path_prefix: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1


class RecordingHelpdesk:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.scripts: list[Script] = []
        self.posted: dict[str, list[dict[str, Any]]] = {}
        self.tags: dict[str, list[str]] = {}  # Zammad ticket id → its tags
        self.files: dict[str, bytes] = {}  # path → bytes served to GET (attachments)
        self.file_delay_s = 0.0  # a slow file host
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RecordingHelpdesk:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, method: str, path_prefix: str, status: int, **kwargs: Any) -> None:
        self.scripts.append(Script(method, path_prefix, status, **kwargs))

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method in ("POST", "PUT")]

    def answer(self, call: Call) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.calls.append(call)
            for script in self.scripts:
                if (
                    script.times > 0
                    and call.method == script.method
                    and call.path.startswith(script.path_prefix)
                ):
                    script.times -= 1
                    return script.status, script.headers, script.body
            return self._default(call)

    def _default(self, call: Call) -> tuple[int, dict[str, str], Any]:
        document = call.json() if call.method != "GET" else None
        if call.path == "/api/v1/tags/add" and isinstance(document, dict):
            tags = self.tags.setdefault(str(document.get("o_id")), [])
            if document.get("item") not in tags:
                tags.append(str(document.get("item")))
            return 201, {}, True
        if call.method == "GET" and urlsplit(call.path).path == "/api/v1/tags":
            query = parse_qs(urlsplit(call.path).query)
            return 200, {}, {"tags": list(self.tags.get((query.get("o_id") or [""])[0], []))}
        key, listing = _ticket_key(call.path, document)
        if call.method == "GET":
            items = self.posted.get(key, [])
            return 200, {}, {listing: items} if listing else items
        text = _posted_text(document)
        item = {"id": sum(len(v) for v in self.posted.values()) + 1, "body": text}
        self.posted.setdefault(key, []).append(item)
        return (200 if call.method == "PUT" else 201), {}, {"id": item["id"]}


def _ticket_key(path: str, document: Any) -> tuple[str, str | None]:
    if path == "/api/v1/ticket_articles" and isinstance(document, dict):
        return f"zammad:{document.get('ticket_id')}", None
    for pattern, provider, listing in TICKET_PATHS:
        match = pattern.match(path)
        if match:
            return f"{provider}:{match.group(1)}", listing
    return f"other:{path}", None


def _posted_text(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    comment = (document.get("ticket") or {}).get("comment") if "ticket" in document else None
    return str((comment or document).get("body", ""))


def _handler(fake: RecordingHelpdesk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            call = Call(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            status, headers, body = fake.answer(call)
            payload = json.dumps(body).encode() if body is not None else b""
            if self.command == "GET" and self.path in fake.files:  # an attachment's bytes
                time.sleep(fake.file_delay_s)
                status, headers, payload = (
                    200,
                    {"Content-Type": "application/octet-stream"},
                    fake.files[self.path],
                )
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *_: Any) -> None:
            pass

    return Handler
