"""`POST /v1/training/runs` (admin) starts a retraining run; `GET` lists runs or shows one with its report."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.resources import parse_json_body, resources
from shared.celery_app import TASK_RETRAIN
from shared.learning.runs import RunInProgress, create_run, get_run, list_runs
from shared.learning.schemas import TrainingRunIn
from shared.outbox.models import OutboxMessage
from shared.outbox.service import add_message

bp = Blueprint("training", __name__)


@bp.post("/v1/training/runs")
def start_training_run() -> Response:
    require_api_key("admin")
    body = parse_json_body(TrainingRunIn) if request.get_data(cache=True).strip() else TrainingRunIn()
    res = resources()
    staged: list[OutboxMessage] = []

    def stage(session: Session, run_id: str) -> None:  # the run and its message: one transaction
        staged.append(add_message(session, task=TASK_RETRAIN, args=[run_id], claim=True))

    try:
        run = create_run(
            session_factory=res.session_factory,
            trigger="manual",
            options=body.model_dump(),
            stale_after_s=res.settings.training_time_limit_s,
            stage=stage,
        )
    except RunInProgress as exc:
        raise ApiError(
            409, "run_in_progress", str(exc), fields=[{"field": "run", "message": exc.run_id}]
        ) from None
    res.dispatch(staged[0])
    response = jsonify(run.model_dump(mode="json"))
    response.status_code = 202
    response.headers["Location"] = f"/v1/training/runs/{run.id}"
    return response


@bp.get("/v1/training/runs")
def get_training_runs() -> Response:
    require_api_key()
    runs = list_runs(session_factory=resources().session_factory)
    return jsonify({"runs": [run.model_dump(mode="json", exclude={"report"}) for run in runs]})


@bp.get("/v1/training/runs/<run_id>")
def get_training_run(run_id: str) -> Response:
    require_api_key()
    run = get_run(session_factory=resources().session_factory, run_id=run_id[:64])
    if run is None:
        raise ApiError(404, "not_found", f"no training run {run_id[:64]}")
    return jsonify(run.model_dump(mode="json"))
