"""Console pages for the knowledge base (list, view, edit, import, a search playground), the dead letters
(write-backs that gave up: list and retry) and the audit log (admin only)."""

from __future__ import annotations

import yaml
from flask import Blueprint, Response, redirect, render_template, request, url_for
from pydantic import ValidationError
from sqlalchemy import func, select

from services.gateway.console.signin import ConsoleError, require
from services.gateway.deliveries.service import list_deliveries, requeue_dead_letter
from services.gateway.errors import ApiError
from services.gateway.kb.views import MAX_QUERY_CHARS, request_indexing, search_through_worker
from services.gateway.resources import resources
from shared.access.models import Scope
from shared.access.service import list_audit
from shared.db import session_scope
from shared.integrations.models import DeliveryStatus
from shared.kb.importers import parse_markdown, slugify
from shared.kb.models import KbArticle
from shared.kb.schemas import KbArticleIn
from shared.kb.store import get_article, upsert_article

bp = Blueprint("ops", __name__)
MAX_IMPORT_BYTES = 512 * 1024


@bp.get("/kb")
def kb() -> str:
    require()
    query = select(KbArticle.id, KbArticle.title, KbArticle.source, KbArticle.updated_at).order_by(
        KbArticle.id
    )
    with session_scope(resources().session_factory) as session:
        articles = session.execute(query.limit(1000)).all()
        total = session.scalar(select(func.count(KbArticle.id)))
    q = request.args.get("q", "").strip()[:MAX_QUERY_CHARS]
    found, problem = None, None
    if q:
        try:
            found = search_through_worker(q, 5)
        except ApiError as exc:
            problem = exc.message
    return render_template(
        "console/kb.html", articles=articles, total=total, q=q, found=found, problem=problem
    )


@bp.get("/kb/<article_id>")
def kb_article(article_id: str) -> str:
    require()
    with session_scope(resources().session_factory) as session:
        view = get_article(session=session, article_id=article_id[:100])
    if view is None:
        raise ConsoleError(404, f"no knowledge-base article {article_id[:100]}")
    return render_template("console/kb_article.html", article=view, editing=request.args.get("edit") == "1")


def _save(article: KbArticleIn, source: str) -> str:
    if article.id is None:
        article = article.model_copy(update={"id": slugify(article.title)})
    with session_scope(resources().session_factory) as session:
        result = upsert_article(session=session, article=article, source=source)
    if result.changed:
        request_indexing(result.article_id)
    return result.article_id


@bp.post("/kb/<article_id>")
def kb_save(article_id: str) -> Response:
    require(Scope.ADMIN)
    tags = [t.strip() for t in request.form.get("tags", "").split(",") if t.strip()]
    try:
        article = KbArticleIn(
            id=article_id[:100],
            title=request.form.get("title", ""),
            body=request.form.get("body", ""),
            url=request.form.get("url") or None,
            tags=tags,
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors(include_input=False))
        raise ConsoleError(422, f"the article is not valid: check {fields}") from None
    saved = _save(article, "console")
    return redirect(url_for("console.ops.kb_article", article_id=saved))


@bp.post("/kb-import")
def kb_import() -> Response:
    """A Markdown file with front matter (title, id, tags, url), as `helploop kb import` reads them."""
    require(Scope.ADMIN)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ConsoleError(422, "choose a Markdown file to import")
    raw = upload.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise ConsoleError(413, f"the file is over {MAX_IMPORT_BYTES // 1024} KiB")
    try:
        article = parse_markdown(raw.decode("utf-8"), origin=upload.filename[:200])
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ConsoleError(422, f"could not read {upload.filename[:200]}: {str(exc)[:200]}") from None
    saved = _save(article, upload.filename[:200])
    return redirect(url_for("console.ops.kb_article", article_id=saved))


@bp.get("/dead-letters")
def dead_letters() -> str:
    require()
    rows = list_deliveries(session_factory=resources().session_factory, status=DeliveryStatus.DEAD, limit=200)
    return render_template("console/dead_letters.html", rows=rows)


@bp.post("/dead-letters/<int:delivery_id>/retry")
def retry(delivery_id: int) -> Response:
    require(Scope.ADMIN)
    res = resources()
    requeued = requeue_dead_letter(session_factory=res.session_factory, delivery_id=delivery_id)
    if requeued is None:
        raise ConsoleError(404, f"no delivery {delivery_id}")
    res.dispatch(requeued[1])
    return redirect(url_for("console.ops.dead_letters", retried=delivery_id))


@bp.get("/audit")
def audit() -> str:
    require(Scope.ADMIN)
    return render_template("console/audit.html", rows=list_audit(session_factory=resources().session_factory))
