"""Shared by the console's tests: signing a test client in (the small registry lives beside the seeded
inbox, in `helploop.bench.console_data`, which the benchmark uses too)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from helploop.bench.console_data import small_registry

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: FlaskClient, path: str = "/console/sign-in") -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def sign_in(client: FlaskClient, key: str) -> None:
    response = client.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf_of(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


__all__ = ["csrf_of", "sign_in", "small_registry"]
