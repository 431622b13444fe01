"""The demo shop's Chinese help centre: one Chinese article per English one, written in Chinese, stating
the same facts (every number — days, hours, amounts — the same as in its English twin)."""

from __future__ import annotations

import re
from pathlib import Path

from shared.kb.importers import read_articles

KB = Path(__file__).resolve().parents[2] / "shared" / "kb"
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _chinese_share(text: str) -> float:
    """Chinese characters among Chinese characters and Latin words (brand names stay Latin)."""
    hanzi = sum("\u4e00" <= c <= "\u9fff" for c in text)
    return hanzi / max(1, hanzi + len(re.findall(r"[A-Za-z]+", text)))


def test_every_english_article_has_a_chinese_twin_with_the_same_facts() -> None:
    english = {a.id: a for a in read_articles(KB / "demo_articles")}
    chinese = {a.id: a for a in read_articles(KB / "demo_articles_zh")}
    assert {f"{article_id}-zh" for article_id in english} == set(chinese)
    for article_id, article in chinese.items():
        twin = english[article_id.removesuffix("-zh")]
        assert _chinese_share(article.title + article.body) > 0.75, article_id
        assert set(NUMBER.findall(article.body)) == set(NUMBER.findall(twin.body)), article_id
        assert article.body.count("## ") == twin.body.count("## "), article_id
        assert article.url and article.url.endswith(article_id.removesuffix("-zh")) and article.tags
