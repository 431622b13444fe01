"""One logging configuration for every helploop process (level from `HELPLOOP_LOG_LEVEL`; personal data in
log lines redacted unless `HELPLOOP_LOG_REDACT_PII=false`; Presidio's detectors added with
`HELPLOOP_PII_PRESIDIO=true` where it is installed)."""

from __future__ import annotations

import logging
import os

from shared.pii import RedactingFormatter, presidio_detector, register_detector

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
# Libraries that log routine detail at INFO (ONNX graph passes, Alembic plugins).
QUIET_LOGGERS = ("onnx_ir", "onnxscript", "alembic.runtime.plugins", "httpx", "urllib3")


def configure_logging(level: str | None = None) -> None:
    """Idempotent: installs a stderr handler on the root logger once."""
    root = logging.getLogger()
    if any(getattr(h, "_helploop", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    redacting = os.environ.get("HELPLOOP_LOG_REDACT_PII", "true").lower() not in ("0", "false", "no")
    handler.setFormatter(RedactingFormatter(FORMAT) if redacting else logging.Formatter(FORMAT))
    if os.environ.get("HELPLOOP_PII_PRESIDIO", "").lower() in ("1", "true", "yes"):
        detector = presidio_detector()
        if detector is not None:
            register_detector(detector)
    handler._helploop = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("HELPLOOP_LOG_LEVEL", "INFO")).upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
