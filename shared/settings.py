"""One typed settings object for every helploop process, read from `HELPLOOP_*` variables and `.env`."""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {"change-me", "change-me-admin", "changeme", "secret", "dev-secret", "dev-api-key", ""}
)
PLACEHOLDER_WORDS = ("change-me", "changeme", "placeholder", "your-secret", "your_secret", "<secret>")
MIN_SECRET_LENGTH = 16  # bytes


def secret_problem(secret: str) -> str | None:
    """Why `secret` is unfit to authenticate anyone (empty, a placeholder, too short, one repeated
    character), or None. The answer never contains the secret."""
    value = secret.strip()
    if not value:
        return "is empty"
    lowered = value.lower()
    if lowered in PLACEHOLDER_SECRETS or any(word in lowered for word in PLACEHOLDER_WORDS):
        return "is a placeholder"
    if len(value.encode("utf-8")) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} bytes"
    if len(set(value)) == 1:
        return "is one character repeated"
    return None


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Validated at start: a process that cannot run correctly refuses to start."""

    model_config = SettingsConfigDict(env_prefix="HELPLOOP_", env_file=".env", extra="ignore")

    env: Environment = Environment.PROD
    database_url: str = "sqlite:///./var/helploop.db"
    redis_url: str = "redis://127.0.0.1:6379/0"  # or sentinel://h1:26379;sentinel://h2:26379/0
    redis_sentinel_master: str | None = None  # the monitored master's name, for sentinel:// URLs
    redis_sentinel_password: str | None = None  # the sentinels' own password, where they have one
    model_registry_dir: Path = Path("./var/models")
    datasets_dir: Path = Path("../shared/datasets")
    base_encoder_dir: Path | None = None  # a local HF encoder dir instead of the pinned packages
    # the knowledge-base sentence encoder: multilingual-e5-small (cross-language search) or minilm-l6
    kb_encoder: Literal["multilingual-e5-small", "minilm-l6"] = "multilingual-e5-small"
    encoder_registry_dir: Path = Path("./var/encoders")  # the sentence encoder for knowledge-base search
    generator_registry_dir: Path = Path("./var/generators")  # reply-draft generator bundles
    cache_dir: Path = Path("./var/cache")  # converted base weights (e.g. the generator's GGUF → fp32)

    webhook_secrets: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["change-me"])
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["change-me"])
    # keys for admin endpoints (training, activation, rollback, shadow, reclassification); they also read
    admin_api_keys: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["change-me-admin"])
    signature_tolerance_s: int = Field(default=300, ge=1)  # signed timestamps (generic, Zendesk)
    # the console's session cookies are signed with this (default: derived from the keys and secrets above)
    console_secret: str | None = None
    console_idle_timeout_s: float = Field(default=1800.0, ge=30, le=86400)  # an idle session signs out
    console_page_size: int = Field(default=50, ge=10, le=500)  # tickets per inbox page
    # Jira retries a failed delivery with the original body, documented up to 30 minutes late; its signed
    # `timestamp` must be within this window (replays inside it are duplicates by the signed issue id)
    jira_delivery_window_s: int = Field(default=3600, ge=60)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # `limits` notation ("600/minute", "10/second;1000/hour"); empty: no limit
    rate_limit_api: str = "600/minute"  # per authenticated API key
    rate_limit_webhooks: str = "3000/minute"  # per helpdesk integration, counted once the signature holds
    # per client address: missing or invalid API keys, failed webhook signatures and tokens; checked before
    # any key lookup or signature check
    rate_limit_auth_failures: str = "30/minute"
    # reverse proxies in front of the gateway whose X-Forwarded-For/-Proto/-Host are trusted (0: none; the
    # client address is then the TCP peer's). Rate limits and the audit log use the address this yields.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    # transactional outbox: each gateway process runs a relay thread (one works at a time, by lease) that
    # publishes messages the intake could not (broker away, older messages waiting)
    outbox_relay_enabled: bool = True
    outbox_relay_interval_s: float = Field(default=0.5, gt=0)
    outbox_retention_s: float = Field(default=86400.0, ge=0)  # sent messages kept this long, then purged
    api_key_cache_s: float = Field(default=5.0, ge=0)  # a revoked key stops working within this time
    # workers re-enqueue tickets still waiting for triage this long after their last enqueue (a message
    # lost between broker and worker, an enqueue that failed at intake); classification is idempotent
    stale_requeue_after_s: float = Field(default=900.0, ge=1)
    stale_sweep_interval_s: float = Field(default=60.0, ge=0.5)
    public_base_url: str = "http://127.0.0.1:8000"

    broker_visibility_timeout_s: int = Field(default=600, ge=5)
    broker_connect_timeout_s: float = Field(default=2.0, gt=0)
    broker_restore_interval_s: int = Field(default=10, ge=1)
    triage_time_limit_s: int = Field(default=60, ge=1)
    triage_max_retries: int = Field(default=5, ge=0)
    worker_concurrency: int = Field(default=1, ge=1)
    worker_restart_on_failure: bool = True  # a worker that stops on an unrecoverable error starts afresh
    # "threads": one process runs `worker_concurrency` tasks in threads and micro-batches classification
    # (the triage worker to scale); "prefork": a process per task (isolation, hard time limits)
    worker_pool: Literal["prefork", "threads"] = "prefork"
    log_level: str = "INFO"
    log_redact_pii: bool = True  # personal data in log lines replaced by placeholders (shared.logging_setup)
    pii_presidio: bool = False  # add Presidio's detectors to redaction where presidio-analyzer is installed
    celery_task_events: bool = (
        False  # on for celery-exporter and Flower (Compose); ~10 % of a triage task's CPU
    )
    triage_batch_max: int = Field(default=32, ge=1, le=256)  # tickets per graph run (threads pool)
    triage_batch_max_tokens: int = Field(default=4096, ge=64)  # padded tokens per graph run
    triage_batch_wait_ms: float = Field(default=2.0, ge=0, le=100)  # longest a batch waits for more
    onnx_intra_op_threads: int = Field(default=0, ge=0)
    top_k: int = Field(default=3, ge=1, le=20)
    kb_search_timeout_s: float = Field(default=10.0, gt=0)
    drafts_enabled: bool = True
    draft_kb_passages: int = Field(default=3, ge=0, le=10)
    # a KB passage below this cosine is left out of the prompt; unset: the encoder bundle's own floor
    # (scores are not comparable across encoders: MiniLM 0.25, multilingual-e5 0.75, see kb build-encoder)
    draft_min_kb_score: float | None = Field(default=None, ge=-1, le=1)
    draft_max_new_tokens: int = Field(default=256, ge=1, le=1024)
    draft_temperature: float = Field(default=0.0, ge=0, le=2)
    draft_top_p: float = Field(default=0.9, gt=0, le=1)
    # 1.0: drafts come from fine-tuned generators only, and a penalty keeps them from copying the context's
    # wording (demo hold-out: chrF 68.5 at 1.0 vs 60.8 at 1.1, docs/drafts.md)
    draft_repetition_penalty: float = Field(default=1.0, ge=1, le=2)
    # a draft never repeats a 4-token sequence of its own (0: off): small models fall into loops
    # ("联系电话、联系电话、…"); chosen on STC-3 and the demo hold-out, docs/drafts.md ("Drafts in the
    # customer's language")
    draft_no_repeat_ngram: int = Field(default=4, ge=0, le=32)
    draft_time_limit_s: int = Field(default=180, ge=5)
    # a flagged draft (an invented order id or figure, a contradiction, …) is sampled again up to this
    # often and the first clean one kept (shared/drafting/resample.py; 0: off); docs/drafts.md
    draft_resample_attempts: int = Field(default=2, ge=0, le=8)
    # drafts written per ticket, the one they agree on most served (chrF MBR, shared/drafting/consensus.py;
    # 1: the greedy draft only); each further draft costs a sampled row of decoding, all in one batch of at
    # most 8; docs/drafts.md
    draft_candidates: int = Field(default=1, ge=1, le=9)
    # an untuned generator invents policies ("I am not able to provide refunds…"): its drafts are replaced
    # by the intent's template unless this is set (for evaluating the base model, never in production)
    draft_allow_untuned_generator: bool = False
    # how far back a customer's earlier tickets are shown (drafting prompt, escalation brief); older ones
    # are never read
    history_retention_days: float = Field(default=365.0, gt=0, le=3650)

    routing_policy_file: Path | None = None  # None: the conservative built-in policy (no auto-reply)
    integrations_file: Path | None = None  # helpdesk integrations (YAML); None: generic webhook + API only
    writeback_max_attempts: int = Field(default=8, ge=1, le=50)
    writeback_backoff_base_s: float = Field(default=2.0, gt=0)
    # below the broker visibility timeout: a longer countdown would be redelivered while it waits
    writeback_backoff_max_s: float = Field(default=300.0, gt=0)
    writeback_http_timeout_s: float = Field(default=10.0, gt=0)

    # learning loop: nightly retraining from resolved tickets, gated against the active model
    training_dir: Path = Path("./var/training")  # per-run datasets and reports
    reports_dir: Path = Path("./var/reports")  # evaluation reports (`make eval`): their plots in the console
    retrain_cron: str = "0 2 * * *"  # minute hour day-of-month month day-of-week (the beat's clock, UTC)
    retrain_base_file: Path | None = None  # None: the data the first model in the lineage was trained on
    golden_set_file: Path | None = None  # fixed test set; None: a stable 10 % hold-out of the base data
    retrain_label_map_file: Path | None = None  # YAML {head: {old label: new label or null}}
    retrain_recent_fraction: float = Field(default=0.2, gt=0, lt=1)  # newest resolutions: test only
    retrain_min_new_resolutions: int = Field(default=20, ge=0)  # the nightly run skips below this
    retrain_max_resolutions: int = Field(default=100_000, ge=1)
    retrain_max_steps: int | None = Field(default=None, ge=1)  # override the lineage's recipe (quick runs)
    retrain_epochs: int | None = Field(default=None, ge=1)  # whole epochs (lifts the recipe's step cap)
    training_time_limit_s: int = Field(default=4 * 3600, ge=60)
    gate_max_macro_f1_drop: float = Field(default=0.005, ge=0, le=1)  # per test set, vs the active model
    gate_max_class_f1_drop: float = Field(default=0.05, ge=0, le=1)
    gate_min_class_support: int = Field(default=20, ge=1)
    gate_max_ece: float = Field(default=0.05, gt=0, le=1)
    gate_min_ece_examples: int = Field(default=100, ge=1)  # ECE on fewer examples is noise: not gated
    beat_schedule_file: Path = Path("./var/celerybeat-schedule")
    # metrics: multiprocess files per process group (wiped at its start), and each worker node's HTTP port
    metrics_dir: Path = Path("./var/metrics")
    worker_metrics_port: int = Field(default=9310, ge=0, le=65535)  # 0: no metrics endpoint
    training_metrics_port: int = Field(default=9311, ge=0, le=65535)
    live_accuracy_cache_s: float = Field(default=60.0, ge=0)  # the gateway recomputes it at most this often

    # attachments (shared.media): caps at intake and download, where the worker keeps them, how long
    media_dir: Path = Path("./var/media")  # content-addressed files (`shared.media.store`), workers' disk
    media_retention_days: float = Field(default=30.0, gt=0)
    media_max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    media_max_ticket_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    media_max_files: int = Field(default=10, ge=0, le=50)  # per ticket; more are refused at intake
    media_wait_s: float = Field(default=120.0, ge=0)  # drafts wait this long for attachments, then go
    media_time_limit_s: int = Field(default=300, ge=10)  # one ticket's attachments (hard limit: +30 s)
    media_allow_private: bool = False  # URL attachments of API/generic tickets from private addresses
    # hosts that URL attachments of API and generic-webhook tickets may come from (helpdesks: per integration)
    media_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    media_ocr_engine: str = "auto"  # auto: the measured default (`shared.media.ocr`); "off" disables OCR
    media_speech_enabled: bool = True

    @field_validator("retrain_cron")
    @classmethod
    def _five_cron_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("retrain_cron needs five fields: minute hour day-of-month month day-of-week")
        return value

    @field_validator("rate_limit_api", "rate_limit_webhooks", "rate_limit_auth_failures")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    f"not a rate limit: {value!r} (e.g. '600/minute' or '10/second;1000/hour')"
                ) from None
        return value.strip()

    @field_validator("webhook_secrets", "api_keys", "admin_api_keys", "media_allowed_hosts", mode="before")
    @classmethod
    def _parse_csv_list(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("webhook_secrets")  # API keys may be empty: keys made by `helploop keys` replace them
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one secret is required")
        return value

    @model_validator(mode="after")
    def _sentinel_needs_master(self) -> Settings:
        if self.redis_url.startswith("sentinel://") and not self.redis_sentinel_master:
            raise ValueError("HELPLOOP_REDIS_URL is a sentinel:// URL: set HELPLOOP_REDIS_SENTINEL_MASTER")
        return self

    def weak_secrets(self) -> list[str]:
        """Each webhook secret or API key that `secret_problem` rejects, named by variable and position."""
        problems = []
        for field in ("webhook_secrets", "api_keys", "admin_api_keys"):
            for index, secret in enumerate(getattr(self, field)):
                if (problem := secret_problem(secret)) is not None:
                    problems.append(f"HELPLOOP_{field.upper()} #{index + 1} {problem}")
        if self.console_secret is not None and (problem := secret_problem(self.console_secret)):
            problems.append(f"HELPLOOP_CONSOLE_SECRET {problem}")
        return problems

    def require_real_secrets(self) -> list[str]:
        """Called at start by every process that checks signatures or keys (the gateway): in prod, weak
        secrets refuse the start; in dev and test they are returned (to be logged as warnings). Offline
        tools (train, evaluate) skip it."""
        problems = self.weak_secrets()
        if problems and self.env is Environment.PROD:
            raise ValueError(
                "; ".join(problems) + f" (min {MIN_SECRET_LENGTH} bytes, not a placeholder): set real "
                "secrets (`helploop init` makes them) or HELPLOOP_ENV=dev"
            )
        return problems

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides taking precedence."""
    return Settings(**overrides)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, built once on first use (never at import time)."""
    return Settings()
