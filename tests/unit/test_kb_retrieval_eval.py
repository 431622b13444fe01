"""The bilingual KB evaluation set is well-formed, and recall@k is computed right (no model, seconds)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from shared.kb.importers import read_articles
from shared.kb.retrieval_eval import (
    DEMO_EN_DIR,
    DEMO_ZH_DIR,
    EvalQuery,
    Passage,
    demo_passages,
    load_eval_set,
    ranked_slugs,
    recall_table,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_eval_set_covers_every_demo_article_in_both_languages() -> None:
    queries = load_eval_set()
    english = {a.id for a in read_articles(DEMO_EN_DIR)}
    chinese = {a.id for a in read_articles(DEMO_ZH_DIR)}
    assert len(english) == 23 and chinese == {f"{slug}-zh" for slug in english}
    assert {q.article for q in queries} == english
    per_language = Counter(q.language for q in queries)
    assert per_language["en"] >= 110 and per_language["zh"] >= 110
    coverage = Counter((q.language, q.article) for q in queries)
    assert all(coverage[(lang, slug)] >= 4 for lang in ("en", "zh") for slug in english)
    assert len({q.query for q in queries}) == len(queries), "duplicate queries"
    assert all(bool(CJK.search(q.query)) == (q.language == "zh") for q in queries)


def test_demo_passages_are_the_kb_chunks_of_both_languages() -> None:
    passages = demo_passages()
    assert {p.slug for p in passages if p.language == "zh"} == {
        p.slug for p in passages if p.language == "en"
    }
    assert all(p.article_id.endswith("-zh") == (p.language == "zh") for p in passages)
    assert len(demo_passages(chunked=False)) == 46


def test_ranked_slugs_scores_an_article_by_its_best_chunk_once() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    slugs = ["a", "a", "b", "c"]
    assert ranked_slugs(scores, slugs, np.ones(4, dtype=bool), 2) == ["a", "b"]
    assert ranked_slugs(scores, slugs, np.array([False, False, True, True]), 3) == ["b", "c"]


def _tiny_example() -> tuple[list[EvalQuery], np.ndarray, list[Passage], np.ndarray]:
    ids = ["ship", "ship-zh", "refund", "refund-zh", "gift", "gift-zh", "tax", "tax-zh"]
    passages = [Passage(i, "zh" if i.endswith("-zh") else "en", i) for i in ids]
    vectors = list(np.eye(8))
    passages.append(Passage("refund", "en", "refund, second chunk"))  # a second chunk of one article
    vectors.append(0.7 * np.eye(8)[2] + 0.7 * np.eye(8)[6])
    queries = [
        EvalQuery("en ship", "en", "ship"),
        EvalQuery("zh refund", "zh", "refund"),
        EvalQuery("zh gift", "zh", "gift"),
        EvalQuery("en tax", "en", "tax"),
    ]
    query_vectors = np.array(
        [
            [0.05, 0.9, 0.5, 0, 0, 0, 0.3, 0],  # en: refund, tax, ship; zh: ship-zh first
            [0, 0, 0.6, 0.8, 0, 0, 0, 0],  # refund first everywhere
            [0, 0, 0, 0.2, 0.9, 0.1, 0.5, 0.3],  # zh: tax, refund, gift; en: gift first
            [0.9, 0.8, 0.05, 0, 0.04, 0, 0.01, 0.1],  # en: tax 4th; zh and mixed: tax 2nd
        ]
    )
    return queries, query_vectors, passages, np.array(vectors)


def test_recall_same_cross_and_mixed_settings() -> None:
    table = recall_table(*_tiny_example())
    same, cross, mixed = table["same-language"], table["cross-language"], table["mixed"]
    assert (same["en"]["recall@1"], same["en"]["recall@3"]) == (0.0, 0.5)
    assert (same["zh"]["recall@1"], same["zh"]["recall@3"]) == (0.5, 1.0)
    assert (same["all"]["recall@1"], same["all"]["recall@3"], same["all"]["queries"]) == (0.25, 0.75, 4)
    assert (cross["en"]["recall@1"], cross["en"]["recall@3"]) == (0.5, 1.0)
    assert (cross["zh"]["recall@1"], cross["zh"]["recall@3"]) == (1.0, 1.0)
    assert (mixed["en"]["recall@1"], mixed["en"]["recall@3"]) == (0.5, 1.0)
    assert (mixed["zh"]["recall@1"], mixed["zh"]["recall@3"]) == (1.0, 1.0)
