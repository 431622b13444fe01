"""Knowledge-base search and reply drafts through the real gateway and real workers (the gateway loads
no model)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from helploop.cli.client import post_signed, ticket_payload
from shared.registry import Registry
from shared.runtime.language import detect_language
from tests.conftest import ADMIN_API_KEY, WEBHOOK_SECRET
from tests.integration.conftest import Stack


def call(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_API_KEY}"}  # article writes need the admin scope
    response = requests.request(method, stack.base_url + path, json=body, headers=headers, timeout=30)
    return response.status_code, response.json() if response.content else None


def test_article_posted_to_the_gateway_is_found_by_a_worker_search(stack: Stack) -> None:
    article = {
        "id": "gift-wrapping",
        "title": "Gift wrapping",
        "body": "## Options\nWe gift-wrap any order in recycled paper for $3 and add a handwritten card.",
        "tags": ["gifts"],
    }
    assert call(stack, "POST", "/v1/kb/articles", article)[0] == 201
    status, result = call(stack, "GET", "/v1/kb/search?q=can%20you%20wrap%20my%20present&k=3")
    assert status == 200 and result["hits"][0]["article_id"] == "gift-wrapping"
    assert result["hits"][0]["score"] > 0.3 and result["encoder"].startswith("multilingual-e5-small-")
    _, view = call(stack, "GET", "/v1/kb/articles/gift-wrapping")
    assert view["indexed_chunks"] == view["chunks"] == 1


def _drafted(stack: Stack, text: str) -> dict[str, Any]:
    accepted = post_signed(stack.base_url, ticket_payload(text), WEBHOOK_SECRET).json()
    deadline = time.monotonic() + 120
    view: dict[str, Any] = {}
    while time.monotonic() < deadline and not view.get("draft"):
        time.sleep(0.5)
        view = call(stack, "GET", f"/v1/tickets/{accepted['id']}")[1]
    assert view.get("draft") is not None, stack.logs()
    return view


@pytest.mark.own_worker
def test_classified_ticket_gets_a_draft_that_cites_the_knowledge_base(
    stack: Stack, generator_registry: Registry
) -> None:
    stack.env.update(
        HELPLOOP_GENERATOR_REGISTRY_DIR=str(generator_registry.root),
        HELPLOOP_DRAFT_MAX_NEW_TOKENS="32",
        HELPLOOP_DRAFTS_ENABLED="true",
        # the fixture's generator is untuned (fine-tuning is make run's and train-generator's job): allowed
        # here so the worker's decode path runs; by default its drafts are replaced (tests/test_generator.py)
        HELPLOOP_DRAFT_ALLOW_UNTUNED_GENERATOR="true",
    )
    stack.start_worker()
    article = {
        "id": "late-or-lost-parcels",
        "title": "Late or lost parcels",
        "body": "A Standard parcel is late when it has not arrived 7 working days after dispatch.",
    }
    assert call(stack, "POST", "/v1/kb/articles", article)[0] == 201
    draft = _drafted(stack, "My parcel still hasn't arrived after 9 days. Where is it?")["draft"]
    assert "late-or-lost-parcels" in draft["citations"] and draft["text"]
    assert draft["generator_version"] == generator_registry.active_version()
    assert 0 < draft["tokens"] <= 32 and draft["latency_ms"] > 0
    # a Chinese ticket: the English article is found across languages, and the draft is Chinese — the
    # English-only generator is not asked; the Chinese template goes out, saying why
    view = _drafted(stack, "我的包裹还没到，已经两周了，我要退款")
    draft = view["draft"]
    assert view["classification"]["language"] == "zh" and view["language"] in (None, "zh")
    assert detect_language(draft["text"]).language == "zh", draft["text"]
    assert "late-or-lost-parcels" in draft["citations"]
    assert draft["source"] == "template" and draft["flags"] == ["language_not_served"]
