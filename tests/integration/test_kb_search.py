"""Knowledge-base search through the real gateway and a real worker: the gateway loads no model."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import API_KEY
from tests.integration.conftest import Stack


def call(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
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
    assert result["hits"][0]["score"] > 0.3 and result["encoder"].startswith("minilm-l6-")
    _, view = call(stack, "GET", "/v1/kb/articles/gift-wrapping")
    assert view["indexed_chunks"] == view["chunks"] == 1
