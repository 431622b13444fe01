"""Per-process worker state: DB engine, classifier and knowledge base, built lazily after fork."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

import redis
import requests
from sqlalchemy.orm import Session, sessionmaker

from services.inference.attachments import MediaContext
from services.inference.drafting import DraftContext
from services.inference.microbatch import DirectPredictor, MicroBatcher
from services.inference.model_holder import ActiveArtifact, ActiveModel, ClassifierVersions, PinnedModels
from services.inference.reclassify import BatchContext
from services.inference.routing import RoutingContext, route_with_result
from services.inference.shadow import ShadowContext
from services.inference.shadow_drafting import ShadowDraftContext
from services.inference.triage import TriageContext
from services.inference.writeback.delivery import WritebackContext
from shared.celery_app import QUEUE_DRAFTS, QUEUE_KB, QUEUE_TRIAGE, settings_of
from shared.db import build_engine, build_session_factory
from shared.integrations.config import Integration, load_integrations
from shared.kb.search import KnowledgeBase
from shared.media.reader import EngineSlot, MediaReader
from shared.media.sources import FetchAccess, access_for
from shared.media.store import MediaStore
from shared.model_events import ModelEventListener
from shared.model_lifecycle import CLASSIFIER
from shared.process_local import ProcessLocal
from shared.redis_client import redis_from_settings
from shared.registry import Registry
from shared.routing.policy import PolicyHolder
from shared.runtime.encoder import SentenceEncoder
from shared.runtime.generator import GenerationConfig, OnnxGenerator
from shared.runtime.language import load_identifier
from shared.settings import Environment, Settings

log = logging.getLogger(__name__)


def onnx_threads(settings: Settings) -> int:
    """onnxruntime threads per session: the setting, else the cores shared out among a prefork worker's
    processes (a threads worker runs one batch at a time: all its cores)."""
    if settings.onnx_intra_op_threads:
        return settings.onnx_intra_op_threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if settings.worker_pool == "threads":
        return cores
    return max(1, cores // settings.worker_concurrency)


class ActiveKnowledgeBase:
    """The knowledge base over the active sentence encoder (re-made when the encoder version changes)."""

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        threads = onnx_threads(settings)
        self.session_factory = session_factory
        self.encoder = ActiveArtifact(
            Registry(settings.encoder_registry_dir),
            lambda path, version: SentenceEncoder(path, version=version, intra_op_threads=threads),
            kind="encoder",
        )
        self._kb: KnowledgeBase | None = None

    def get(self) -> KnowledgeBase:
        encoder = self.encoder.get()
        if self._kb is None or self._kb.encoder is not encoder:
            self._kb = KnowledgeBase(self.session_factory, encoder)
        return self._kb


def _media_context(
    settings: Settings, factory: sessionmaker[Session], integrations: dict[str, Integration]
) -> MediaContext:
    """The attachments' reader; its engines load on the first attachment that needs them."""
    threads = onnx_threads(settings)

    def load_ocr() -> Any:
        if settings.media_ocr_engine == "off":
            return None
        from shared.media.ocr import DEFAULT_OCR_ENGINE, load_ocr_engine

        name = DEFAULT_OCR_ENGINE if settings.media_ocr_engine == "auto" else settings.media_ocr_engine
        return load_ocr_engine(name, threads=threads)

    def load_speech() -> Any:
        if not settings.media_speech_enabled:
            return None
        from shared.media.speech import load_speech_engine

        return load_speech_engine(cache_dir=settings.cache_dir, threads=threads)

    def access(source: str) -> FetchAccess:
        return access_for(
            integrations.get(source),
            allowed_hosts=settings.media_allowed_hosts,
            allow_private=settings.media_allow_private,
            max_bytes=settings.media_max_file_bytes,
        )

    reader = MediaReader(EngineSlot("OCR", load_ocr), EngineSlot("speech recognition", load_speech))
    return MediaContext(
        session_factory=factory,
        store=MediaStore(settings.media_dir),
        reader=reader,
        access_for_source=access,
        max_ticket_bytes=settings.media_max_ticket_bytes,
        retention_days=settings.media_retention_days,
    )


@dataclass
class WorkerContext:
    settings: Settings
    triage: TriageContext
    knowledge: ActiveKnowledgeBase
    drafts: DraftContext
    routing: RoutingContext
    writeback: WritebackContext
    batch: BatchContext
    shadow: ShadowContext
    shadow_drafts: ShadowDraftContext
    media: MediaContext


_context: ProcessLocal[WorkerContext] = ProcessLocal()


def _draft_context(
    settings: Settings, factory: sessionmaker[Session], knowledge: ActiveKnowledgeBase
) -> DraftContext:
    threads = onnx_threads(settings)
    generator = ActiveArtifact(
        Registry(settings.generator_registry_dir),
        lambda path, version: OnnxGenerator(path, version=version, intra_op_threads=threads),
        kind="generator",
    )
    generation = GenerationConfig(
        max_new_tokens=settings.draft_max_new_tokens,
        temperature=settings.draft_temperature,
        top_p=settings.draft_top_p,
        repetition_penalty=settings.draft_repetition_penalty,
        no_repeat_ngram=settings.draft_no_repeat_ngram,
        stop_strings=("<|im_end|>", "<|im_start|>"),
    )
    return DraftContext(
        session_factory=factory,
        generator=generator,
        knowledge=knowledge,
        generation=generation,
        kb_passages=settings.draft_kb_passages,
        min_kb_score=settings.draft_min_kb_score,
        allow_untuned=settings.draft_allow_untuned_generator,
        history_retention_days=settings.history_retention_days,
        resample_attempts=settings.draft_resample_attempts,
        candidates=settings.draft_candidates,
    )


def _shadow_draft_context(settings: Settings, drafts: DraftContext) -> ShadowDraftContext:
    """The shadow generator, loaded on the first shadow task (capacity 1: a new shadow replaces the old)."""
    threads = onnx_threads(settings)
    registry = Registry(settings.generator_registry_dir)
    versions = PinnedModels(
        registry,
        lambda path, version: OnnxGenerator(path, version=version, intra_op_threads=threads),
        capacity=1,
    )
    return ShadowDraftContext(drafts, registry, versions)


def _writeback_context(
    settings: Settings, factory: sessionmaker[Session], integrations: dict[str, Integration]
) -> WritebackContext:
    http = requests.Session()
    http.headers["User-Agent"] = "helploop-writeback/1"
    return WritebackContext(
        session_factory=factory,
        integrations=integrations,
        http=http,
        max_attempts=settings.writeback_max_attempts,
        backoff_base_s=settings.writeback_backoff_base_s,
        backoff_max_s=settings.writeback_backoff_max_s,
        timeout_s=settings.writeback_http_timeout_s,
    )


def triage_predictor(settings: Settings) -> DirectPredictor | MicroBatcher:
    """Micro-batching where tasks run side by side in threads; a prefork process runs one at a time."""
    if settings.worker_pool != "threads" or settings.worker_concurrency < 2 or settings.triage_batch_max < 2:
        return DirectPredictor()
    return MicroBatcher(
        max_batch=settings.triage_batch_max,
        max_tokens=settings.triage_batch_max_tokens,
        max_wait_ms=settings.triage_batch_wait_ms,
        timeout_s=settings.triage_time_limit_s,
    )


def build_context(settings: Settings) -> WorkerContext:
    """An invalid routing policy or integrations file stops the worker here, at start."""
    engine = build_engine(settings.database_url)
    factory = build_session_factory(engine)
    registry = Registry(settings.model_registry_dir)
    threads = onnx_threads(settings)
    model = ActiveModel(registry, intra_op_threads=threads)
    versions = ClassifierVersions(registry, intra_op_threads=threads)
    knowledge = ActiveKnowledgeBase(factory, settings)
    integrations = load_integrations(settings.integrations_file, strict=settings.env is Environment.PROD)
    drafts = _draft_context(settings, factory, knowledge)
    routing = RoutingContext(
        factory,
        PolicyHolder(settings.routing_policy_file),
        integrations,
        history_retention_days=settings.history_retention_days,
    )
    triage = TriageContext(
        session_factory=factory,
        model=model,
        top_k=settings.top_k,
        predictor=triage_predictor(settings),
        max_attempts=settings.triage_max_retries + 1,
        # drafts off: nothing comes between classification and routing, so they commit together
        route=None if settings.drafts_enabled else functools.partial(route_with_result, context=routing),
    )
    return WorkerContext(
        settings=settings,
        triage=triage,
        knowledge=knowledge,
        drafts=drafts,
        routing=routing,
        writeback=_writeback_context(settings, factory, integrations),
        batch=BatchContext(factory, versions, top_k=settings.top_k),
        shadow=ShadowContext(factory, registry, versions),
        shadow_drafts=_shadow_draft_context(settings, drafts),
        media=_media_context(settings, factory, integrations),
    )


def worker_context() -> WorkerContext:
    """The context of this process, from the Settings the worker started with; a context inherited
    through fork is never reused."""
    return _context.get(lambda: build_context(settings_of()))  # the worker's entry point's Settings


def warm_up(queues: list[str]) -> None:
    """Load, in each child after fork, what the served queues need: the classifier for `triage`, the
    sentence encoder for `kb` and `drafts`, the generator for `drafts`. A missing one is not fatal.
    `shadow_drafts` loads nothing here: its encoder and shadow generator load with its first task, so its
    worker costs next to nothing while no generator runs in shadow."""
    context = worker_context()
    holders = {
        "classifier": (context.triage.model, QUEUE_TRIAGE in queues),
        "sentence encoder": (context.knowledge.encoder, bool({QUEUE_KB, QUEUE_DRAFTS} & set(queues))),
        "generator": (context.drafts.generator, QUEUE_DRAFTS in queues),
    }
    for name, (holder, needed) in holders.items():
        if not needed:
            continue
        try:
            log.info("worker process %s serving %s %s", os.getpid(), name, holder.get().version)
        except Exception as exc:
            log.warning("%s not loaded at start: %s", name, exc)
    if QUEUE_TRIAGE in queues:
        load_identifier(cache_dir=context.settings.cache_dir)  # language: triage asks it of every ticket
        listen_for_model_events(context)


def listen_for_model_events(context: WorkerContext) -> ModelEventListener:
    """Preload an announced classifier version in a background thread of this process."""

    def on_event(event: dict[str, Any]) -> None:
        version = event.get("version")
        if event.get("registry") != CLASSIFIER or not isinstance(version, str):
            return
        if event.get("event") in ("activated", "rolled_back"):
            context.triage.model.preload(version)

    def connect() -> redis.Redis:
        return redis_from_settings(context.settings, socket_connect_timeout=5, health_check_interval=30)

    listener = ModelEventListener(connect, on_event)
    listener.start()
    return listener
