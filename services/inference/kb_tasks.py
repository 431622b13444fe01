"""Knowledge-base tasks: embed new chunks eagerly, and answer searches for the gateway (which loads no
model). Thin wrappers over `shared.kb.search.KnowledgeBase`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from services.inference.context import worker_context
from services.inference.model_holder import ModelUnavailable
from services.inference.retry import retrying
from services.inference.tasks import timed
from shared.celery_app import TASK_KB_INDEX, TASK_KB_SEARCH
from shared.kb.schemas import KbSearchResult

log = logging.getLogger(__name__)


def search_knowledge_base(*, query: str, k: int) -> dict[str, Any]:
    knowledge = worker_context().knowledge.get()
    hits, revision = knowledge.search(query, k=k)
    return KbSearchResult(
        query=query, hits=hits, revision=revision, encoder=knowledge.encoder.version
    ).model_dump()


@shared_task(
    name=TASK_KB_INDEX,  # routed to QUEUE_KB by task_routes in shared.celery_app
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=10,
    soft_time_limit=300,
    time_limit=330,
    ignore_result=True,
)
@timed
@retrying(on=(ModelUnavailable, OperationalError))
def index_articles(self: Task, article_id: str | None = None) -> int:
    """Embed the pending chunks of one article (or all); searches also do this lazily, so a lost
    message only delays indexing until the next search."""
    count = worker_context().knowledge.get().index_pending(article_id=article_id)
    log.info("indexed %d knowledge-base chunks (article %s)", count, article_id or "*")
    return count


@shared_task(
    name=TASK_KB_SEARCH,
    acks_late=False,  # a caller waits a few seconds at most: redelivery after a crash would be too late
    soft_time_limit=20,
    time_limit=30,
    ignore_result=False,
)
@timed
def search(query: str, k: int = 5) -> dict[str, Any]:
    return search_knowledge_base(query=query, k=k)
