"""HTTP endpoints of the knowledge base: article CRUD here, search through a worker (the gateway loads
no model: it publishes `helploop.kb.search` and waits for the answer a few seconds)."""

from __future__ import annotations

import logging

from celery.exceptions import TimeoutError as CeleryTimeout
from flask import Blueprint, Response, jsonify, request, url_for
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from services.gateway.auth import require_api_key
from services.gateway.errors import ApiError
from services.gateway.resources import parse_json_body, resources
from shared.celery_app import TASK_KB_INDEX, TASK_KB_SEARCH, enqueue
from shared.db import session_scope
from shared.kb.importers import slugify
from shared.kb.schemas import KbArticleIn, KbSearchResult
from shared.kb.store import delete_article, get_article, upsert_article

log = logging.getLogger(__name__)
bp = Blueprint("kb", __name__)
MAX_QUERY_CHARS = 2000
MAX_K = 50


def request_indexing(article_id: str) -> bool:
    """Ask a worker to embed the article now; if Redis is away the next search indexes it anyway."""
    try:
        enqueue(resources().celery, TASK_KB_INDEX, article_id, retry=False)
        return True
    except (BrokerError, RedisError, OSError) as exc:
        log.warning("could not queue indexing of article %s: %s", article_id, exc)
        return False


@bp.post("/v1/kb/articles")
def create_article() -> Response:
    require_api_key("admin")
    article = parse_json_body(KbArticleIn)
    if article.id is None:
        article = article.model_copy(update={"id": slugify(article.title)})
    with session_scope(resources().session_factory) as session:
        result = upsert_article(session=session, article=article, source="api")
    queued = request_indexing(result.article_id) if result.changed else False
    body = {
        "id": result.article_id,
        "created": result.created,
        "changed": result.changed,
        "chunks": result.chunks,
        "indexing_queued": queued,
        "url": url_for("kb.read_article", article_id=result.article_id, _external=True),
    }
    response = jsonify(body)
    response.status_code = 201 if result.created else 200
    return response


@bp.get("/v1/kb/articles/<article_id>")
def read_article(article_id: str) -> Response:
    require_api_key()
    with session_scope(resources().session_factory) as session:
        view = get_article(session=session, article_id=article_id[:100])
    if view is None:
        raise ApiError(404, "not_found", f"no knowledge-base article {article_id[:100]!r}")
    return jsonify(view.model_dump(mode="json"))


@bp.delete("/v1/kb/articles/<article_id>")
def remove_article(article_id: str) -> Response:
    require_api_key("admin")
    with session_scope(resources().session_factory) as session:
        deleted = delete_article(session=session, article_id=article_id[:100])
    if not deleted:
        raise ApiError(404, "not_found", f"no knowledge-base article {article_id[:100]!r}")
    return Response(status=204)


def _search_args() -> tuple[str, int]:
    query = request.args.get("q", "").strip()
    if not query or len(query) > MAX_QUERY_CHARS or "\x00" in query:
        raise ApiError(422, "invalid_query", f"q must be 1..{MAX_QUERY_CHARS} characters of text")
    try:
        k = int(request.args.get("k", "5"))
    except ValueError:
        raise ApiError(422, "invalid_query", "k must be an integer") from None
    if not 1 <= k <= MAX_K:
        raise ApiError(422, "invalid_query", f"k must be between 1 and {MAX_K}")
    return query, k


@bp.get("/v1/kb/search")
def search() -> Response:
    require_api_key()
    query, k = _search_args()
    return jsonify(search_through_worker(query, k).model_dump(mode="json"))


def search_through_worker(query: str, k: int) -> KbSearchResult:
    """Publish the search and wait for a worker's answer; 503 (`ApiError`) when none answers or it failed."""
    res = resources()
    try:
        pending = enqueue(res.celery, TASK_KB_SEARCH, query, k, retry=False, ignore_result=False)
        answer = pending.get(timeout=res.settings.kb_search_timeout_s, propagate=True)
    except (CeleryTimeout, BrokerError, RedisError, OSError) as exc:
        raise ApiError(
            503,
            "search_unavailable",
            "no worker answered the search in time, or the queue is unreachable; retry shortly",
            headers={"Retry-After": "5"},
            log_detail=f"{type(exc).__name__}: {exc}",
        ) from None
    except Exception as exc:  # raised in the worker, e.g. no sentence encoder built yet
        raise ApiError(
            503,
            "search_failed",
            "the search failed in the worker; the gateway log has the reason under this request_id",
            log_detail=f"{type(exc).__name__}: {exc}",
        ) from None
    return KbSearchResult.model_validate(answer)
