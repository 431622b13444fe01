"""Batch reclassification jobs, shadow reports and live accuracy over HTTP.

`POST /v1/reclassify` (admin), `GET /v1/jobs/<id>`, `POST /v1/jobs/<id>/resume` (admin),
`GET /v1/models/<v>/shadow-report`, `GET /v1/accuracy?window_days=7&model_version=`,
`GET /v1/drafts/adoption?window_days=30`, `GET /v1/drafts/shadow-report?version=&window_days=30` (a shadow
generator's drafts against the served ones, scored on the agents' replies).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.resources import parse_json_body, resources
from shared.drafting.adoption_service import adoption_report
from shared.drafting.shadow_service import shadow_drafts_report
from shared.learning import jobs
from shared.learning.dispatch import dispatch_chunks
from shared.learning.reports import live_accuracy, shadow_report
from shared.learning.schemas import ReclassifyIn
from shared.registry import Registry, VersionNotFound

log = logging.getLogger(__name__)
bp = Blueprint("learning", __name__)


def _known_version(version: str | None) -> str:
    registry = resources().registry
    version = version or registry.active_version()
    if version is None:
        raise ApiError(409, "no_active_model", "no active model; name a model_version")
    try:
        registry.manifest(version)
    except VersionNotFound:
        raise ApiError(404, "not_found", f"model version {version!r} not found") from None
    return version


def _dispatch(job_id: str, positions: list[int]) -> None:
    try:
        dispatch_chunks(resources().celery, job_id, positions)
    except Exception as exc:
        log.warning("could not enqueue job %s: %s", job_id, exc)
        raise ApiError(
            503, "queue_unavailable", f"job {job_id} stored; resume it when the queue is back"
        ) from None


@bp.post("/v1/reclassify")
def reclassify() -> Response:
    require_api_key("admin")
    body = parse_json_body(ReclassifyIn)
    if body.until is not None and body.until <= body.since:
        raise ApiError(
            422,
            "validation_error",
            "until must be after since",
            fields=[{"field": "until", "message": "not after since"}],
        )
    version = _known_version(body.model_version)
    try:
        job = jobs.create_reclassify_job(
            session_factory=resources().session_factory,
            since=body.since,
            until=body.until,
            model_version=version,
            chunk_size=body.chunk_size,
        )
    except jobs.EmptyJob as exc:
        raise ApiError(422, "empty_range", str(exc)) from None
    _dispatch(job.id, list(range(job.total_chunks)))
    response = jsonify(job.model_dump(mode="json"))
    response.status_code = 202
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return response


@bp.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    require_api_key()
    job = jobs.get_job(session_factory=resources().session_factory, job_id=job_id[:64])
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id[:64]}")
    return jsonify(job.model_dump(mode="json"))


@bp.post("/v1/jobs/<job_id>/resume")
def resume_job(job_id: str) -> Response:
    """Re-enqueue the chunks not done yet (after a crash or a queue outage); finished ones are skipped."""
    require_api_key("admin")
    factory = resources().session_factory
    if jobs.get_job(session_factory=factory, job_id=job_id[:64]) is None:
        raise ApiError(404, "not_found", f"no job {job_id[:64]}")
    jobs.reopen_job(session_factory=factory, job_id=job_id)
    pending = jobs.pending_chunks(session_factory=factory, job_id=job_id)
    if pending:
        _dispatch(job_id, pending)
    view = jobs.get_job(session_factory=factory, job_id=job_id)
    response = jsonify({**view.model_dump(mode="json"), "requeued_chunks": len(pending)})  # type: ignore[union-attr]
    response.status_code = 202 if pending else 200
    return response


@bp.get("/v1/models/<version>/shadow-report")
def get_shadow_report(version: str) -> Response:
    require_api_key()
    version = _known_version(version)
    report = shadow_report(session_factory=resources().session_factory, version=version)
    report["status"] = resources().registry.status(version)
    return jsonify(report)


def _window_days(default: str) -> float:
    try:
        window = float(request.args.get("window_days", default))
    except ValueError:
        raise ApiError(422, "invalid_parameter", "window_days must be a number") from None
    if not 0 < window <= 365:
        raise ApiError(422, "invalid_parameter", "window_days must be in (0, 365]")
    return window


@bp.get("/v1/drafts/adoption")
def get_draft_adoption() -> Response:
    require_api_key()
    window = _window_days("30")
    return jsonify(adoption_report(session_factory=resources().session_factory, window_days=window))


@bp.get("/v1/drafts/shadow-report")
def get_shadow_drafts_report() -> Response:
    require_api_key()
    window = _window_days("30")
    registry = Registry(resources().settings.generator_registry_dir)
    version = request.args.get("version") or registry.shadow_version()
    if not version:
        raise ApiError(404, "not_found", "no generator runs in shadow: name one with ?version=")
    if version not in registry.versions():
        raise ApiError(404, "not_found", f"no generator version {version}")
    report = shadow_drafts_report(
        session_factory=resources().session_factory, version=version, window_days=window
    )
    report["status"] = registry.status(version)
    return jsonify(report)


@bp.get("/v1/accuracy")
def get_live_accuracy() -> Response:
    require_api_key()
    window = _window_days("7")
    version = _known_version(request.args.get("model_version") or None)
    return jsonify(
        live_accuracy(session_factory=resources().session_factory, version=version, window_days=window)
    )
