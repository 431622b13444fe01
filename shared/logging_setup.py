"""One logging configuration for every helploop process, from its `Settings`: the level
(`HELPLOOP_LOG_LEVEL`), personal data in log lines redacted unless `HELPLOOP_LOG_REDACT_PII=false`, Presidio's
detectors added with `HELPLOOP_PII_PRESIDIO=true` where it is installed. A process whose settings do not
load logs that with the defaults (INFO, redacted)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.pii import RedactingFormatter, presidio_detector, register_detector

if TYPE_CHECKING:
    from shared.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
# Libraries that log routine detail at INFO (ONNX graph passes, Alembic plugins).
QUIET_LOGGERS = ("onnx_ir", "onnxscript", "alembic.runtime.plugins", "httpx", "urllib3")


def configure_logging(settings: Settings | None = None, *, level: str | None = None) -> None:
    """Idempotent: installs a stderr handler on the root logger once (the first call's settings win)."""
    root = logging.getLogger()
    if any(getattr(h, "_helploop", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    redacting = settings.log_redact_pii if settings is not None else True
    handler.setFormatter(RedactingFormatter(FORMAT) if redacting else logging.Formatter(FORMAT))
    if settings is not None and settings.pii_presidio:
        detector = presidio_detector()
        if detector is not None:
            register_detector(detector)
    handler._helploop = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel((level or (settings.log_level if settings is not None else "INFO")).upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
