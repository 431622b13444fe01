"""Per-process worker state: DB engine and model, built lazily in the child after fork."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from services.inference.model_holder import ActiveModel
from services.inference.triage import TriageContext
from shared.db import build_engine, build_session_factory
from shared.registry import Registry
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    settings: Settings
    triage: TriageContext
    pid: int


_context: WorkerContext | None = None


def build_context(settings: Settings) -> WorkerContext:
    engine = build_engine(settings.database_url)
    model = ActiveModel(
        Registry(settings.model_registry_dir), intra_op_threads=settings.onnx_intra_op_threads
    )
    triage = TriageContext(session_factory=build_session_factory(engine), model=model, top_k=settings.top_k)
    return WorkerContext(settings=settings, triage=triage, pid=os.getpid())


def worker_context() -> WorkerContext:
    """The context of this process; a context inherited through fork is never reused."""
    global _context
    if _context is None or _context.pid != os.getpid():
        _context = build_context(get_settings())
    return _context


def warm_up() -> None:
    """Load the active model now (called in each child after fork); a missing model is not fatal."""
    try:
        classifier = worker_context().triage.model.get()
        log.info("worker process %s serving model %s", os.getpid(), classifier.version)
    except Exception as exc:
        log.warning("model not loaded at start: %s", exc)
