"""Knowledge-base import formats and chunking (no database, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helploop.cli.kb import DEMO_KB_DIR
from shared.kb.chunking import chunk_article, embedding_text
from shared.kb.importers import ImportFormatError, parse_csv, parse_json, parse_markdown, read_articles


def test_markdown_front_matter_and_title_line() -> None:
    text = (
        "---\nid: returns\ntitle: Returns policy\ntags: [returns]\nurl: https://x.example/r\n---\nBody here."
    )
    article = parse_markdown(text, origin="r.md")
    assert (article.id, article.title, article.tags, article.body) == (
        "returns",
        "Returns policy",
        ["returns"],
        "Body here.",
    )
    plain = parse_markdown("# Shipping times & costs\n\nThree to five days.", origin="s.md")
    assert plain.id == "shipping-times-costs" and plain.body == "Three to five days."
    with pytest.raises(ImportFormatError, match="no title"):
        parse_markdown("just text", origin="x.md")


def test_json_and_csv_rows_are_validated_with_their_origin() -> None:
    rows = parse_json(json.dumps({"articles": [{"title": "A", "body": "b", "tags": ["t"]}]}), origin="a.json")
    assert rows[0].id == "a" and rows[0].tags == ["t"]
    with pytest.raises(ImportFormatError, match=r"b\.json\[0\]: body"):
        parse_json(json.dumps([{"title": "no body"}]), origin="b.json")
    csv_rows = parse_csv("id,title,body,tags\nx-1,Title,Some body,a|b\n", origin="c.csv")
    assert (csv_rows[0].id, csv_rows[0].tags) == ("x-1", ["a", "b"])
    with pytest.raises(ImportFormatError, match="missing column"):
        parse_csv("name,text\na,b\n", origin="d.csv")


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "same-title.md").write_text("# A title\n\ntext")  # id from the file name
    (tmp_path / "two.json").write_text(json.dumps([{"title": "Same title", "body": "other"}]))
    with pytest.raises(ImportFormatError, match="duplicate article ids: same-title"):
        read_articles(tmp_path)


def test_chunks_follow_headings_and_the_word_budget() -> None:
    long_paragraph = " ".join(f"word{i}" for i in range(250))
    body = f"Intro line.\n\n## First\nOne.\n\nTwo.\n\n## Second\n{long_paragraph}"
    chunks = chunk_article(body, max_words=100)
    assert [(c.heading, len(c.text.split())) for c in chunks] == [
        ("", 2),
        ("First", 2),
        ("Second", 100),
        ("Second", 100),
        ("Second", 50),
    ]
    assert [c.position for c in chunks] == list(range(5))
    assert embedding_text("Returns", "Window", "30 days") == "Returns — Window: 30 days"


def test_demo_knowledge_base_has_twenty_articles_with_sections() -> None:
    articles = read_articles(DEMO_KB_DIR)
    assert len(articles) >= 20
    assert all(a.url and a.tags and len(chunk_article(a.body)) >= 1 for a in articles)
