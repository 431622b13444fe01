"""The gateway's metrics and request ids: request timing hooks, an `X-Request-Id` on every response (the
caller's when well-formed, else a new one; error bodies and the log lines about them carry it), and
`GET /metrics` with what is read at scrape time — queue depth (Redis), the active and shadow model
(registry), live accuracy and draft adoption (resolutions, cached) and dead letters waiting (database)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from services.gateway.errors import REQUEST_ID_HEADER, assign_request_id, request_id
from services.gateway.resources import Resources
from shared.celery_app import ALL_QUEUES
from shared.db import session_scope
from shared.drafting.adoption_service import adoption_report
from shared.integrations.models import Delivery, DeliveryStatus
from shared.learning.reports import live_accuracy
from shared.metrics import HTTP_DURATION, PROVIDERS, WEBHOOK_DURATION, exposition_registry

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ACCURACY_WINDOW_DAYS = 7.0


class ScrapeTimeCollector(Collector):
    """Values read when Prometheus scrapes; each source that fails is left out (and logged), never a 500."""

    def __init__(self, resources: Resources, *, accuracy_ttl_s: float = 60.0) -> None:
        self.res = resources
        self._accuracy: tuple[float, list[Metric]] = (0.0, [])
        self._adoption: tuple[float, list[Metric]] = (0.0, [])
        self._accuracy_ttl_s = accuracy_ttl_s

    def collect(self) -> Iterator[Metric]:
        sources = (
            self._queues,
            self._models,
            self._accuracy_metrics,
            self._adoption_metrics,
            self._dead_letters,
        )
        for source in sources:
            try:
                yield from source()
            except Exception as exc:
                log.warning("metrics: %s unavailable: %s", source.__name__.strip("_"), exc)

    def _queues(self) -> list[Metric]:
        depth = GaugeMetricFamily("helploop_queue_depth", "Messages waiting in each queue", labels=["queue"])
        pipe = self.res.redis.pipeline()
        for queue in ALL_QUEUES:
            pipe.llen(queue)
        for queue, length in zip(ALL_QUEUES, pipe.execute(), strict=True):
            depth.add_metric([queue], float(length))
        unacked = GaugeMetricFamily(
            "helploop_queue_unacked", "Messages delivered to workers, not yet acknowledged"
        )
        unacked.add_metric([], float(self.res.redis.hlen("unacked")))
        return [depth, unacked]

    def _models(self) -> list[Metric]:
        registry = self.res.registry
        info = InfoMetricFamily("helploop_active_model", "The classifier version the registry says is active")
        info.add_metric(
            [],
            {"version": registry.active_version() or "none", "shadow": registry.shadow_version() or "none"},
        )
        return [info]

    def _accuracy_metrics(self) -> list[Metric]:
        cached_at, metrics = self._accuracy
        if time.monotonic() - cached_at < self._accuracy_ttl_s:
            return metrics
        version = self.res.registry.active_version()
        if version is None:
            return []
        report = live_accuracy(
            session_factory=self.res.session_factory, version=version, window_days=ACCURACY_WINDOW_DAYS
        )
        ratio = GaugeMetricFamily(
            "helploop_live_accuracy_ratio",
            "Share of the active model's predictions that agents' final intents confirmed, last 7 days",
            labels=["version"],
        )
        resolved = GaugeMetricFamily(
            "helploop_live_accuracy_resolved_tickets",
            "Resolved tickets behind the live accuracy",
            labels=["version"],
        )
        resolved.add_metric([version], float(report["resolved"]))
        if report["accuracy"] is not None:
            ratio.add_metric([version], float(report["accuracy"]))
        self._accuracy = (time.monotonic(), [ratio, resolved])
        return self._accuracy[1]

    def _adoption_metrics(self) -> list[Metric]:
        cached_at, metrics = self._adoption
        if time.monotonic() - cached_at < self._accuracy_ttl_s:
            return metrics
        report = adoption_report(session_factory=self.res.session_factory, window_days=ACCURACY_WINDOW_DAYS)
        ratio = GaugeMetricFamily(
            "helploop_draft_adoption_ratio",
            "Share of resolved tickets whose draft the agent sent as is or edited (not discarded), 7 days",
            labels=["source"],
        )
        resolved = GaugeMetricFamily(
            "helploop_draft_adoption_resolved_tickets",
            "Resolved tickets with a draft and the agent's reply behind the adoption ratio, last 7 days",
            labels=["source"],
        )
        for source, summary in report["per_source"].items():
            resolved.add_metric([source], float(summary["resolved_with_draft"]))
            if summary["adoption_rate"] is not None:
                ratio.add_metric([source], float(summary["adoption_rate"]))
        self._adoption = (time.monotonic(), [ratio, resolved])
        return self._adoption[1]

    def _dead_letters(self) -> list[Metric]:
        waiting = GaugeMetricFamily(
            "helploop_writeback_dead_letters_waiting",
            "Dead deliveries not retried yet, by provider",
            labels=["provider"],
        )
        query = (
            select(Delivery.provider, func.count())
            .where(Delivery.status == DeliveryStatus.DEAD)
            .group_by(Delivery.provider)
        )
        counts = dict.fromkeys(PROVIDERS, 0)  # every provider, so panels and alerts have a series at zero
        with session_scope(self.res.session_factory) as session:
            counts.update({provider: count for provider, count in session.execute(query)})
        for provider, count in counts.items():
            waiting.add_metric([provider], float(count))
        return [waiting]


def _webhook_provider(res: Resources) -> str | None:
    rule = request.url_rule.rule if request.url_rule else ""
    if not rule.startswith("/v1/webhooks/"):
        return None
    name = (request.view_args or {}).get("name")
    if name is None:
        return "generic"
    integration = res.integrations.get(name)
    return integration.provider.value if integration else "unknown"  # never the raw name: bounded labels


def init_metrics(app: Flask, res: Resources) -> None:
    scrape_time = CollectorRegistry()
    scrape_time.register(ScrapeTimeCollector(res, accuracy_ttl_s=res.settings.live_accuracy_cache_s))

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()
        assign_request_id()

    @app.after_request
    def _observe(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        started = g.pop("request_started", None)
        if started is None or request.endpoint == "metrics":
            return response
        seconds = time.perf_counter() - started
        status = str(response.status_code)
        endpoint = request.endpoint or "unmatched"
        HTTP_DURATION.labels(endpoint, request.method, status).observe(seconds)
        if (provider := _webhook_provider(res)) is not None:
            WEBHOOK_DURATION.labels(provider, status).observe(seconds)
        return response

    @app.get("/metrics", endpoint="metrics")
    def metrics() -> Response:
        body = generate_latest(exposition_registry()) + generate_latest(scrape_time)
        return Response(body, mimetype=None, content_type=CONTENT_TYPE)
