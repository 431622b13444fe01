"""gunicorn's access log without secrets: a Freshdesk integration token travels in the URL path
(`/v1/webhooks/<name>/<token>`), so the request line and path are logged with it masked."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

TOKEN_IN_PATH = re.compile(r"(/v1/webhooks/[^/\s?]+/)[^/\s?]+")


def redact_path(text: str) -> str:
    return TOKEN_IN_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_path(atoms[key])
        return atoms
