"""One logging configuration for every helploop process (level from `HELPLOOP_LOG_LEVEL`)."""

from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
# Libraries that log routine detail at INFO (ONNX graph passes, Alembic plugins).
QUIET_LOGGERS = ("onnx_ir", "onnxscript", "alembic.runtime.plugins", "httpx", "urllib3")


def configure_logging(level: str | None = None) -> None:
    """Idempotent: installs a stderr handler on the root logger once."""
    root = logging.getLogger()
    if any(getattr(h, "_helploop", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._helploop = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("HELPLOOP_LOG_LEVEL", "INFO")).upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
