"""Multiprocess metrics set-up, kept apart from `shared.metrics`: prometheus_client picks its value
store when first imported, so PROMETHEUS_MULTIPROC_DIR must be set before anything imports it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(path: Path) -> Path:
    """Empty `path` and point PROMETHEUS_MULTIPROC_DIR at it. Called by the process that owns the
    directory (the gunicorn master's launcher, a Celery worker's main process) before its children fork."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path.resolve())
    return path
