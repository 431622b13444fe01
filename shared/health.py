"""Health and readiness for every process: named checks, and the small HTTP server worker nodes run.

Liveness (`/healthz`) answers while the process can serve HTTP at all; readiness (`/readyz`) runs the
checks (broker, database, an active model) and answers 503 naming what failed. The body says only what is
safe to show anyone who can reach the port (`NotReady` reasons written for it, else "unavailable"); the
exception, with paths and addresses, goes to the log. Kubernetes probes and docker healthchecks use the
same endpoints on the gateway and on worker nodes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.metrics import exposition_registry
from shared.registry import Registry

log = logging.getLogger(__name__)
Check = tuple[str, Callable[[], Any]]  # a name, and a probe that raises or returns a detail (or None)
UNAVAILABLE = "unavailable (the log has the reason)"


class NotReady(Exception):
    """A failed check whose message is written to be shown: no paths, addresses or exception text."""


def run_checks(checks: Sequence[Check], *, request_id: str | None = None) -> tuple[bool, dict[str, Any]]:
    """Run every probe; the body is `{"status": "ready"|"not_ready", "checks": {name: {ok, detail}}}`.
    Failures are logged with their exception (and `request_id`, when a request asked)."""
    results: dict[str, dict[str, Any]] = {}
    for name, probe in checks:
        try:
            results[name] = {"ok": True, "detail": str(probe() or "ok")}
        except Exception as exc:
            shown = str(exc) if isinstance(exc, NotReady) else UNAVAILABLE
            log.warning(
                "readiness: %s failed (request %s): %s: %s", name, request_id, type(exc).__name__, exc
            )
            results[name] = {"ok": False, "detail": shown}
    ready = all(result["ok"] for result in results.values())
    return ready, {"status": "ready" if ready else "not_ready", "checks": results}


def active_model_check(registry: Registry) -> Callable[[], str]:
    def probe() -> str:
        version = registry.active_version()
        if version is None:
            log.info("readiness: no active model in %s", registry.root)
            raise NotReady("no active model (train one, or activate a version)")
        try:
            registry.manifest(version)
        except Exception:
            log.exception("readiness: the active model %s is unreadable", version)
            raise NotReady(f"the active model {version} is unreadable") from None
        return version

    return probe


class _NodeHandler(BaseHTTPRequestHandler):
    checks: Sequence[Check] = ()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(exposition_registry()), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._send_json(200, {"status": "ok"})
        elif path == "/readyz":
            ready, body = run_checks(self.checks)
            self._send_json(200 if ready else 503, body)
        else:
            self._send_json(404, {"error": "not_found", "message": f"no such endpoint: {path}"})

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("node endpoint %s: %s", self.address_string(), format % args)


def serve_node_endpoints(port: int, checks: Sequence[Check]) -> ThreadingHTTPServer | None:
    """`/metrics`, `/healthz` and `/readyz` on `port` from a daemon thread of this (main) process.
    A taken port is logged, not fatal: tickets matter more than their metrics."""
    handler = type("NodeHandler", (_NodeHandler,), {"checks": tuple(checks)})
    try:
        server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    except OSError as exc:
        log.error("node endpoints: port %d unavailable (%s); serving without /metrics and probes", port, exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="node-endpoints", daemon=True).start()
    log.info("node endpoints on :%d (/metrics, /healthz, /readyz)", port)
    return server
