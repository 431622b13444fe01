"""Read knowledge-base articles from Markdown (optional YAML front matter), JSON or CSV files."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.kb.schemas import KbArticleIn

FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
TITLE_LINE = re.compile(r"\A\s*#\s+(.+?)\s*\n")
SUFFIXES = (".md", ".markdown", ".json", ".csv")


class ImportFormatError(ValueError):
    """A file that cannot be read as articles; the message names the file and the problem."""


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:100] or "article"


def _article(data: dict[str, Any], origin: str) -> KbArticleIn:
    try:
        article = KbArticleIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ImportFormatError(f"{origin}: {problems}") from None
    return article if article.id else article.model_copy(update={"id": slugify(article.title)})


def parse_markdown(text: str, *, origin: str, default_id: str | None = None) -> KbArticleIn:
    """Front matter (id, title, url, tags) is optional; without a title, the first `# ` line is it."""
    meta: dict[str, Any] = {}
    match = FRONT_MATTER.match(text)
    if match:
        loaded = yaml.safe_load(match.group(1)) or {}
        if not isinstance(loaded, dict):
            raise ImportFormatError(f"{origin}: front matter must be a mapping")
        meta, text = loaded, text[match.end() :]
    if "title" not in meta:
        heading = TITLE_LINE.match(text)
        if heading is None:
            raise ImportFormatError(f"{origin}: no title (front matter `title:` or a first `# ` line)")
        meta["title"], text = heading.group(1), text[heading.end() :]
    meta.setdefault("id", default_id)
    return _article({**meta, "body": text.strip()}, origin)


def parse_json(text: str, *, origin: str) -> list[KbArticleIn]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ImportFormatError(f"{origin}: not valid JSON ({exc})") from None
    rows = document.get("articles") if isinstance(document, dict) else document
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ImportFormatError(f'{origin}: expected a list of articles or {{"articles": [...]}}')
    return [_article(row, f"{origin}[{i}]") for i, row in enumerate(rows)]


def parse_csv(text: str, *, origin: str) -> list[KbArticleIn]:
    """Columns: title, body, and optionally id, url, tags (separated by `|` or `,`)."""
    reader = csv.DictReader(text.splitlines())
    missing = {"title", "body"} - set(reader.fieldnames or [])
    if missing:
        raise ImportFormatError(f"{origin}: missing column(s) {sorted(missing)}")
    articles = []
    for line, row in enumerate(reader, start=2):
        data: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
        data["tags"] = [t.strip() for t in re.split(r"[|,]", data.get("tags", "")) if t.strip()]
        articles.append(_article(data, f"{origin}:{line}"))
    return articles


def read_articles(path: Path) -> list[KbArticleIn]:
    """One file, or every Markdown/JSON/CSV file under a directory (sorted, so imports are repeatable)."""
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES) if path.is_dir() else [path]
    articles: list[KbArticleIn] = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        suffix = file.suffix.lower()
        if suffix in (".md", ".markdown"):
            articles.append(parse_markdown(text, origin=file.name, default_id=slugify(file.stem)))
        elif suffix == ".json":
            articles.extend(parse_json(text, origin=file.name))
        elif suffix == ".csv":
            articles.extend(parse_csv(text, origin=file.name))
        else:
            raise ImportFormatError(f"{file.name}: unsupported file type (use {', '.join(SUFFIXES)})")
    ids = [a.id for a in articles]
    duplicates = sorted({i for i in ids if ids.count(i) > 1 and i})
    if duplicates:
        raise ImportFormatError(f"duplicate article ids: {', '.join(duplicates)}")
    return articles
