"""`helploop bench --only console`: the console's pages over a large inbox (100,000 tickets by default,
each classified, routed and drafted, one in ten with a final label), rendered in-process through the
gateway (server time: the query, the template, the response), medians of repeated requests; beside them
the plain way to page (SQL OFFSET) against the keyset the inbox uses, and the bare index scan a page
cannot beat (the machine's limit for this query)."""

from __future__ import annotations

import logging
import re
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from helploop.bench.console_data import seed_inbox
from services.gateway.console.inbox import encode_cursor, older_than
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.tickets.models import Ticket

log = logging.getLogger(__name__)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _timed(call: Callable[[], Any], repeats: int) -> dict[str, float]:
    call()  # warm: templates compiled, caches filled
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
    }


def _client(database_url: str, redis_url: str, registry_dir: Path) -> tuple[Any, str]:
    from services.gateway.app import create_app

    admin = secrets.token_urlsafe(32)
    app = create_app(
        {
            "env": "dev",
            "database_url": database_url,
            "redis_url": redis_url,
            "model_registry_dir": registry_dir,
            "webhook_secrets": [secrets.token_urlsafe(32)],
            "api_keys": [secrets.token_urlsafe(32)],
            "admin_api_keys": [admin],
            "outbox_relay_enabled": False,
            "rate_limit_api": "",
            "rate_limit_auth_failures": "",
        }
    )
    client = app.test_client()
    token = CSRF.search(client.get("/console/sign-in").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert client.post("/console/sign-in", data={"api_key": admin, "csrf_token": token}).status_code == 302
    return client, admin


def _paging(factory: Any, deep: int, repeats: int) -> dict[str, Any]:
    """Page `deep / 50` of the inbox: keyset (where the inbox is) against OFFSET, and one index scan."""
    order = (Ticket.received_at.desc(), Ticket.id.desc())
    with session_scope(factory) as session:
        anchor = session.execute(
            select(Ticket.received_at, Ticket.id).order_by(*order).offset(deep).limit(1)
        ).one()
    base = select(Ticket.id, Ticket.received_at, Ticket.subject, Ticket.status).order_by(*order).limit(50)
    keyset = base.where(older_than(anchor[0], anchor[1]))  # what the inbox's next page asks

    def run(query: Any) -> Callable[[], Any]:
        def call() -> Any:
            with session_scope(factory) as session:
                return session.execute(query).all()

        return call

    return {
        "offset_query": _timed(run(base.offset(deep)), repeats),
        "keyset_query": _timed(run(keyset), repeats),
        "index_scan_limit": _timed(run(base), repeats),
        "cursor": encode_cursor((anchor[0], anchor[1])),
    }


def bench_console(
    *, database_url: str, redis_url: str, registry_dir: Path, tickets: int, repeats: int
) -> dict[str, Any]:
    upgrade_database(database_url)
    factory = build_session_factory(build_engine(database_url))
    started = time.perf_counter()
    ids = seed_inbox(factory, tickets, spacing_s=max(1.0, 30 * 86400 / tickets))  # a month of tickets
    seeded_s = time.perf_counter() - started
    if database_url.startswith("postgresql"):  # fresh statistics, as a running database has
        with session_scope(factory) as session:
            session.execute(text("ANALYZE"))
    log.info("console bench: %d tickets seeded in %.1f s", tickets, seeded_s)
    client, _ = _client(database_url, redis_url, registry_dir)
    paging = _paging(factory, tickets // 2, repeats)
    pages = {
        "inbox, first page": "/console/tickets",
        "inbox, page at ticket N/2 (keyset)": f"/console/tickets?before={paging['cursor']}",
        "inbox, intent filter": "/console/tickets?intent=refund_request",
        "inbox, route + status filter": "/console/tickets?route=escalate&status=triaged",
        "inbox, exact external id": f"/console/tickets?q=EXT-{tickets - 7}",
        "inbox, words in subject or body": "/console/tickets?q=new+address",
        "ticket page": f"/console/tickets/{ids[len(ids) // 3]}",
        "review queue": "/console/review",
        "quality, 30 days": "/console/quality",
    }
    rendered = {}
    for name, path in pages.items():

        def get(path: str = path) -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        rendered[name] = _timed(get, repeats)
        log.info("console bench: %s %.1f ms", name, rendered[name]["median_ms"])
    return {
        "database": database_url.split("://", 1)[0],
        "tickets": tickets,
        "seed_seconds": round(seeded_s, 1),
        "repeats": repeats,
        "pages": rendered,
        "paging": {k: v for k, v in paging.items() if k != "cursor"},
    }


def console_table(result: dict[str, Any]) -> str:
    runs = result.get("runs", [result])
    lines = [
        "| page | "
        + " | ".join(f"{r['database']}, {r['tickets']:,} tickets: median / p95 ms" for r in runs)
        + " |",
        "|---|" + "---|" * len(runs),
    ]
    for name in runs[0]["pages"]:
        cells = [f"{r['pages'][name]['median_ms']:.1f} / {r['pages'][name]['p95_ms']:.1f}" for r in runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| page N/2, the query alone | " + " | ".join(f"{r['database']} median ms" for r in runs) + " |",
    ]
    lines.append("|---|" + "---|" * len(runs))
    for key, label in (
        ("offset_query", "OFFSET N/2 (the plain way)"),
        ("keyset_query", "keyset (the inbox)"),
        ("index_scan_limit", "first 50 by the index (the limit)"),
    ):
        lines.append(
            f"| {label} | " + " | ".join(f"{r['paging'][key]['median_ms']:.2f}" for r in runs) + " |"
        )
    return "\n".join(lines)
