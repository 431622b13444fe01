"""The gateway's app factory: `create_app(overrides)`; gunicorn runs `services.gateway.app:create_app()`."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from services.gateway.access.views import bp as access_bp
from services.gateway.auth import init_auth
from services.gateway.console import init_console
from services.gateway.deliveries.views import bp as deliveries_bp
from services.gateway.errors import register_error_handlers, request_id
from services.gateway.feedback.views import bp as feedback_bp
from services.gateway.kb.views import bp as kb_bp
from services.gateway.learning.views import bp as learning_bp
from services.gateway.models.views import bp as models_bp
from services.gateway.observability import init_metrics
from services.gateway.openapi import bp as openapi_bp
from services.gateway.ratelimit import init_rate_limits
from services.gateway.resources import init_resources, resources
from services.gateway.tickets.views import bp as tickets_bp
from services.gateway.training.views import bp as training_bp
from services.gateway.webhooks.views import bp as webhooks_bp
from shared.health import active_model_check, run_checks
from shared.logging_setup import configure_logging
from shared.settings import Settings, load_settings

log = logging.getLogger(__name__)
health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@health_bp.get("/readyz")
def readyz() -> Response:
    res = resources()

    def database() -> None:
        with res.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def broker() -> str:
        return "ok" if res.redis.ping() else "no PONG"

    ready, body = run_checks(
        [("database", database), ("redis", broker), ("model", active_model_check(res.registry))],
        request_id=request_id(),
    )
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


def create_app(overrides: dict[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the gateway. `overrides` are settings fields (e.g. `{"database_url": ...}`)."""
    settings = settings or load_settings(**(overrides or {}))
    configure_logging(settings)
    for problem in settings.require_real_secrets():  # prod refuses to start instead
        log.warning("weak secret: %s (a prod gateway refuses to start)", problem)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    if settings.trusted_proxy_hops:  # the client's address, scheme and host as the trusted proxies saw them
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    res = init_resources(app, settings)
    init_metrics(app, res)
    init_auth(app, res)
    register_error_handlers(app)
    init_rate_limits(app, settings, res.redis)
    app.register_blueprint(health_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(kb_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(deliveries_bp)
    app.register_blueprint(models_bp)
    app.register_blueprint(training_bp)
    app.register_blueprint(learning_bp)
    app.register_blueprint(openapi_bp)
    app.register_blueprint(access_bp)
    init_console(app, settings)
    log.info("gateway ready (env=%s, db=%s)", settings.env, settings.database_url.split("://", 1)[0])
    return app
