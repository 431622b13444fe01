"""Console pages for everyone who may read: sign-in and sign-out, the inbox, a ticket (and correcting its
labels, with the `review` scope), the review queue. Forms post back here with the session's CSRF token."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from services.gateway.console.admin_views import bp as admin_bp
from services.gateway.console.inbox import (
    DRAFT_STATES,
    EPOCH,
    InboxFilter,
    encode_cursor,
    filter_choices,
    inbox_page,
)
from services.gateway.console.ops_views import bp as ops_bp
from services.gateway.console.review import label_counts, review_queue
from services.gateway.console.signin import (
    ConsoleError,
    check_csrf,
    current_principal,
    require,
    sign_in,
    sign_out,
)
from services.gateway.errors import ApiError, request_id
from services.gateway.feedback.service import UnknownTicket, record_correction
from services.gateway.resources import resources
from services.gateway.tickets.service import get_ticket_view
from shared.access.models import Scope
from shared.db import session_scope
from shared.tickets.models import Ticket, TicketStatus

log = logging.getLogger(__name__)
bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)
MAX_SKIPPED = 60  # ticket ids kept in the session cookie (a cookie holds 4 KB)
CHOICES_TTL_S = 60.0
CHOICES_EXTENSION = "helploop_console_choices"
bp.register_blueprint(admin_bp)  # once, when this module is imported: /console/models, /console/quality
bp.register_blueprint(ops_bp)  # /console/kb, /console/dead-letters, /console/audit


@bp.app_template_global()
def can(scope: str) -> bool:
    principal = current_principal()
    return principal is not None and principal.allows(scope)


@bp.errorhandler(ConsoleError)
def _refused(exc: ConsoleError) -> Any:
    if exc.status == 401 and request.method == "GET":
        return redirect(url_for("console.sign_in_page", next=request.full_path))
    return render_template("console/error.html", status=exc.status, message=exc.message), exc.status


@bp.errorhandler(ApiError)
def _api_refused(exc: ApiError) -> Any:  # rate limits and the like, as a page
    return render_template("console/error.html", status=exc.status, message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    return render_template("console/error.html", status=status, message=exc.name), status


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    log.error("console error (request %s): %s", request_id(), exc, exc_info=exc)
    message = _("Something went wrong; the log has the details under request %(id)s.", id=request_id())
    return render_template("console/error.html", status=500, message=message), 500


@bp.get("/")
def home() -> Response:
    return redirect(url_for("console.inbox"))


@bp.get("/sign-in")
def sign_in_page() -> str:
    return render_template("console/sign_in.html", next=request.args.get("next", ""))


@bp.post("/sign-in")
def sign_in_submit() -> Any:
    try:
        check_csrf()  # the sign-in page's token: no other site can sign a browser in with its own key
        sign_in(request.form.get("api_key", ""))
    except ConsoleError as exc:
        page = render_template("console/sign_in.html", next=request.form.get("next", ""), error=exc.message)
        return page, exc.status
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/console/") else url_for("console.inbox"))


@bp.post("/sign-out")
def sign_out_submit() -> Response:
    require()
    sign_out()
    return redirect(url_for("console.sign_in_page"))


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    micros, _sep, ticket_id = value.partition(".")
    if not micros.isdigit() or not ticket_id or len(micros) > 20:
        raise ConsoleError(400, "the page cursor is not valid: start again from the first page")
    return EPOCH + timedelta(microseconds=int(micros)), ticket_id[:64]


def _choices() -> dict[str, list[str]]:
    """The filters' values, read at most once a minute per gateway process."""
    hit = current_app.extensions.get(CHOICES_EXTENSION)
    if hit is None or hit[0] < time.monotonic():
        hit = (time.monotonic() + CHOICES_TTL_S, filter_choices(session_factory=resources().session_factory))
        current_app.extensions[CHOICES_EXTENSION] = hit
    return hit[1]


@bp.get("/tickets")
def inbox() -> str:
    require()
    args = request.args
    filters = InboxFilter(
        status=args.get("status") if args.get("status") in set(TicketStatus) else None,
        intent=(args.get("intent") or "")[:100] or None,
        language=(args.get("language") or "")[:16] or None,
        route=(args.get("route") or "")[:16] or None,
        draft=args.get("draft") if args.get("draft") in DRAFT_STATES else None,
        q=(args.get("q") or "")[:200] or None,
        before=_cursor(args.get("before")),
    )
    started = time.perf_counter()
    size = resources().settings.console_page_size
    rows, cursor = inbox_page(session_factory=resources().session_factory, filters=filters, limit=size)
    query_ms = (time.perf_counter() - started) * 1000
    next_args = {k: v for k, v in args.items() if k != "before" and v}
    if cursor is not None:
        next_args["before"] = encode_cursor(cursor)
    return render_template(
        "console/inbox.html",
        rows=rows,
        filters=filters,
        choices=_choices(),
        statuses=list(TicketStatus),
        draft_states=DRAFT_STATES,
        next_url=url_for("console.inbox", **next_args) if cursor else None,
        query_ms=query_ms,
    )


def _labels_of_active_model() -> list[str]:
    """The primary head's labels of the active classifier (read from its config; no model is loaded)."""
    registry = resources().registry
    version = registry.active_version()
    if version is None:
        return []
    bundle: Path = registry.bundle_dir(version)
    try:
        config = json.loads((bundle / "config.json").read_text())
        if config.get("heads"):
            return list(config["heads"][0]["labels"])
        return list(json.loads((bundle / "labels.json").read_text())["labels"])
    except (OSError, ValueError, KeyError, IndexError):
        return []


@bp.get("/tickets/<ticket_id>")
def ticket(ticket_id: str) -> str:
    require()
    factory = resources().session_factory
    view = get_ticket_view(session_factory=factory, ticket_id=ticket_id[:64])
    if view is None:
        raise ConsoleError(404, f"no ticket with id {ticket_id[:64]}")
    with session_scope(factory) as db:
        row = db.get(Ticket, view.id)
        texts = {"normalised": row.text, "original": row.original_text} if row is not None else {}
    return render_template("console/ticket.html", t=view, texts=texts, labels=_labels_of_active_model())


@bp.post("/tickets/<ticket_id>/labels")
def correct_labels(ticket_id: str) -> Response:
    """Confirm or correct the intent: stored as the ticket's resolution feedback (live accuracy and the
    nightly retrain read it); from the review queue, go on to the next ticket."""
    require(Scope.REVIEW)
    intent = request.form.get("intent", "").strip()[:100]
    if not intent:
        raise ConsoleError(422, "choose an intent")
    try:
        record_correction(
            session_factory=resources().session_factory, ticket_id=ticket_id[:64], labels={"label": intent}
        )
    except UnknownTicket:
        raise ConsoleError(404, f"no ticket with id {ticket_id[:64]}") from None
    if request.form.get("then") == "review":
        return redirect(url_for("console.review"))
    return redirect(url_for("console.ticket", ticket_id=ticket_id[:64]))


@bp.post("/review/skip/<ticket_id>")
def skip(ticket_id: str) -> Response:
    require(Scope.REVIEW)
    skipped = [t for t in session.get("skipped", []) if isinstance(t, str)]
    session["skipped"] = [*skipped, ticket_id[:64]][-MAX_SKIPPED:]
    return redirect(url_for("console.review"))


@bp.get("/review")
def review() -> str:
    require()
    res = resources()
    skipped = {t for t in session.get("skipped", []) if isinstance(t, str)}
    items = review_queue(session_factory=res.session_factory, limit=25, skip=skipped)
    active = res.registry.active_version()
    since = None
    if active is not None:
        created = res.registry.manifest(active).get("created_at")
        since = datetime.fromisoformat(created) if created else None
    counts = label_counts(session_factory=res.session_factory, since=since)
    needed = res.settings.retrain_min_new_resolutions
    return render_template(
        "console/review.html",
        items=items,
        counts=counts,
        needed=needed,
        active=active,
        labels=_labels_of_active_model(),
        skipped=len(skipped),
    )
