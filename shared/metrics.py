"""Every Prometheus metric family of helploop, defined once, and the multiprocess plumbing.

Gunicorn workers and Celery prefork children are separate processes: metrics go through
prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, wiped at start by the process that
owns it, set BEFORE prometheus_client is first imported — see `shared.metrics_setup`). Naming: one
`helploop_` prefix, base units, `_total` counters, `_seconds` durations; labels are low-cardinality
(provider, queue, stage, route, intent, reason, outcome) — never a ticket or customer id.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from shared.integrations.config import Provider
from shared.metrics_setup import MULTIPROC_ENV
from shared.routing.policy import Route

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MODEL_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
PIPELINE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
TRAINING_BUCKETS = (60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0)

WEBHOOK_DURATION = Histogram(
    "helploop_webhook_request_duration_seconds",
    "Webhook requests by integration provider and HTTP status",
    ["provider", "status"],
    buckets=HTTP_BUCKETS,
)
HTTP_DURATION = Histogram(
    "helploop_http_request_duration_seconds",
    "Gateway requests by endpoint (route name), method and status",
    ["endpoint", "method", "status"],
    buckets=HTTP_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "helploop_queue_wait_seconds",
    "Time from publishing a task to a worker starting it, by queue",
    ["queue"],
    buckets=PIPELINE_BUCKETS,
)
TASK_DURATION = Histogram(
    "helploop_task_duration_seconds",
    "Task run time by task and outcome",
    ["task", "outcome"],
    buckets=MODEL_BUCKETS,
)
INFERENCE_DURATION = Histogram(
    "helploop_inference_duration_seconds",
    "Model work by stage: tokenize, classify, lexical (n-gram scores), retrieve, generate",
    ["stage"],
    buckets=MODEL_BUCKETS,
)
MICROBATCH_TICKETS = Histogram(
    "helploop_microbatch_tickets",
    "Tickets per graph run formed by a threads-pool worker's micro-batcher",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
TRIAGE_LATENCY = Histogram(
    "helploop_ticket_triage_latency_seconds",
    "End to end: ticket received by the gateway to its classification stored",
    buckets=PIPELINE_BUCKETS,
)
TICKETS_CLASSIFIED = Counter(
    "helploop_tickets_classified_total", "Tickets classified, by predicted intent", ["intent"]
)
TICKETS_ROUTED = Counter("helploop_tickets_routed_total", "Routing decisions by route", ["route"])
TICKETS_FAILED = Counter("helploop_tickets_failed_total", "Tickets given up after their retries")
DRAFTS = Counter("helploop_drafts_total", "Reply drafts stored, by source (model or template)", ["source"])
SHADOW_DRAFTS = Counter(
    "helploop_shadow_drafts_total",
    "Drafts the shadow generator wrote beside the active one (never shown), by source (model or template)",
    ["source"],
)
DRAFTS_FLAGGED = Counter(
    "helploop_drafts_flagged_total", "Guardrail flags raised on drafts, by reason", ["reason"]
)
DRAFT_RESAMPLES = Counter(
    "helploop_draft_resamples_total",
    "Flagged drafts sampled again, by outcome (clean: a later attempt passed the guardrails)",
    ["outcome"],
)
DRAFT_CANDIDATES = Counter(
    "helploop_draft_candidates_chosen_total",
    "Drafts served from several candidates (HELPLOOP_DRAFT_CANDIDATES > 1), by the one kept",
    ["kept"],
)
DRAFT_ADOPTIONS = Counter(
    "helploop_draft_adoptions_total",
    "Resolved tickets by what the agent did with the draft (sent_as_is, edited, discarded) and its source",
    ["outcome", "source"],
)
WRITEBACK_ATTEMPTS = Counter(
    "helploop_writeback_attempts_total",
    "Write-back calls by provider and outcome (sent, retry, dead)",
    ["provider", "outcome"],
)
WRITEBACK_DEAD_LETTERS = Counter(
    "helploop_writeback_dead_letters_total", "Deliveries given up (dead letters), by provider", ["provider"]
)
MODEL_LOAD = Histogram(
    "helploop_model_load_seconds", "Loading a model bundle, by kind", ["kind"], buckets=MODEL_BUCKETS
)
MODEL_SERVED = Gauge(
    "helploop_model_served",
    "1 for each model version a worker process serves, by kind",
    ["kind", "version"],
    multiprocess_mode="liveall",
)
TRAINING_RUNS = Counter("helploop_training_runs_total", "Training runs by outcome", ["outcome"])
TRAINING_DURATION = Histogram(
    "helploop_training_run_duration_seconds", "Training run wall time", ["outcome"], buckets=TRAINING_BUCKETS
)
RECLASSIFIED = Counter(
    "helploop_reclassified_tickets_total", "Tickets given a result by batch reclassification"
)
ATTACHMENTS_READ = Counter(
    "helploop_attachments_total",
    "Attachments processed, by sniffed kind (image, pdf, audio, text, archive, other), engine and outcome "
    "(extracted, empty, refused, failed)",
    ["kind", "engine", "outcome"],
)
ATTACHMENT_DURATION = Histogram(
    "helploop_attachment_duration_seconds",
    "Time to fetch and read one attachment, by kind and engine",
    ["kind", "engine"],
    buckets=PIPELINE_BUCKETS,
)
ATTACHMENT_DECISIONS = Counter(
    "helploop_attachment_decisions_total",
    "Tickets whose attachments were weighed after triage: changed (re-classified) or unchanged",
    ["decision"],
)
OUTBOX_PUBLISHED = Counter(
    "helploop_outbox_published_total",
    "Outbox messages handed to the broker, by path (inline at intake, or by the relay)",
    ["path"],
)
OUTBOX_PENDING = Gauge(
    "helploop_outbox_pending",
    "Outbox messages not yet handed to the broker, as last counted by the relay",
    multiprocess_mode="livemax",
)


def exposition_registry() -> CollectorRegistry:
    """What `/metrics` serves: every process's samples when in multiprocess mode, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def mark_process_dead(pid: int) -> None:
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


STAGES = ("tokenize", "classify", "lexical", "retrieve", "generate")
ROUTES = tuple(Route)
PROVIDERS = tuple(Provider)
WRITEBACK_OUTCOMES = ("sent", "retry", "dead")
TRAINING_OUTCOMES = ("promoted", "shadow", "passed", "rejected", "skipped", "failed")
DRAFT_SOURCES = ("model", "template")
OUTBOX_PATHS = ("inline", "relay")
GUARDRAIL_FLAGS = (  # shared.drafting.guardrails.Flag
    "ungrounded",
    "pii_echo",
    "empty",
    "degenerate",
    "wrong_language",
    "language_not_served",
    "placeholder",
    "deflection",
    "unsupported_promise",
    "unsupported_refusal",
    "contradiction",
    "wrong_name",
    "untuned_generator",
)
ADOPTION_OUTCOMES = ("sent_as_is", "edited", "discarded")  # shared.drafting.adoption
ATTACHMENT_DECISION_VALUES = ("changed", "unchanged")
RESAMPLE_OUTCOMES = ("clean", "still_flagged")  # shared.drafting.resample
CANDIDATE_KEPT = ("greedy", "sampled")  # shared.drafting.consensus


def initialize_series(*, queues: tuple[str, ...] = (), model_kinds: tuple[str, ...] = ()) -> None:
    """Create the known label combinations at zero, so every family is exported (and every alert and
    panel query has a series) before the first event of its kind."""
    single_label = (
        (QUEUE_WAIT, queues),
        (INFERENCE_DURATION, STAGES),
        (TICKETS_ROUTED, ROUTES),
        (WRITEBACK_DEAD_LETTERS, PROVIDERS),
        (MODEL_LOAD, model_kinds),
        (DRAFTS, DRAFT_SOURCES),
        (SHADOW_DRAFTS, DRAFT_SOURCES),
        (DRAFTS_FLAGGED, GUARDRAIL_FLAGS),
        (DRAFT_RESAMPLES, RESAMPLE_OUTCOMES),
        (DRAFT_CANDIDATES, CANDIDATE_KEPT),
        (TRAINING_RUNS, TRAINING_OUTCOMES),
        (TRAINING_DURATION, TRAINING_OUTCOMES),
        (OUTBOX_PUBLISHED, OUTBOX_PATHS),
        (ATTACHMENT_DECISIONS, ATTACHMENT_DECISION_VALUES),
    )
    for family, values in single_label:
        for value in values:
            family.labels(value)
    for provider in PROVIDERS:
        for outcome in WRITEBACK_OUTCOMES:
            WRITEBACK_ATTEMPTS.labels(provider, outcome)
    for outcome in ADOPTION_OUTCOMES:
        for source in DRAFT_SOURCES:
            DRAFT_ADOPTIONS.labels(outcome, source)
