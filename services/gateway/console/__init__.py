"""The console: server-rendered pages for the people who oversee the AI (inbox, ticket, review queue,
models, quality, knowledge base, dead letters, audit), in English and Chinese (Flask-Babel), signed in
with an API key. No build step: Jinja templates, one stylesheet, one small script."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request, session
from flask_babel import Babel, get_locale

from services.gateway.console.signin import csrf_token, init_sessions
from shared.settings import Settings

HERE = Path(__file__).parent
LANGUAGES = ("en", "zh")


def select_locale() -> str:
    """`?lang=` (remembered in the session), else the session's, else the browser's preference."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    kept = session.get("lang")
    if kept in LANGUAGES:
        return kept
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _security_headers(response: Response) -> Response:
    if (request.blueprint or "").startswith("console"):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "console.static":
            response.headers["Cache-Control"] = "no-store"
    return response


def init_console(app: Flask, settings: Settings) -> None:
    from services.gateway.console.views import bp

    init_sessions(app, settings)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(HERE / "translations")
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(csrf_token=csrf_token, get_locale=get_locale)
    app.after_request(_security_headers)
