"""Bilingual retrieval evaluation of the knowledge-base encoder (numpy only: the gateway may import it).

Queries come from a labelled JSONL set (`query`, `language`, `article` = the English slug). Passages are the
KB's own chunks (`chunk_article` + `embedding_text`, as `KnowledgeBase.index_pending` embeds them) and an
article scores as its best chunk, as `KbIndex.search` ranks them. Four settings, each split by query language:

- same-language: English queries against English articles, Chinese queries against the `-zh` twins;
- cross-language: English queries against the Chinese articles only, Chinese queries against English only;
- mixed: every query against all articles of both languages, a hit being either twin.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.kb.chunking import chunk_article, embedding_text
from shared.kb.importers import read_articles

KB_DIR = Path(__file__).resolve().parent
DEMO_EN_DIR = KB_DIR / "demo_articles"
DEMO_ZH_DIR = KB_DIR / "demo_articles_zh"
DEMO_EVAL_SET = KB_DIR / "eval" / "demo_bilingual.jsonl"
LANGUAGES = ("en", "zh")
SETTINGS = ("same-language", "cross-language", "mixed")
KS = (1, 3)
ZH_SUFFIX = "-zh"

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit-length rows


@dataclass(frozen=True)
class EvalQuery:
    query: str
    language: str
    article: str  # the English slug; the Chinese twin is f"{article}-zh"


@dataclass(frozen=True)
class Passage:
    article_id: str
    language: str
    text: str  # what the encoder sees

    @property
    def slug(self) -> str:
        return slug_of(self.article_id)


def slug_of(article_id: str) -> str:
    """The English slug of an article id (`returns-policy-zh` -> `returns-policy`)."""
    return article_id.removesuffix(ZH_SUFFIX)


def load_eval_set(path: Path = DEMO_EVAL_SET) -> list[EvalQuery]:
    """Read the JSONL set; blank lines are skipped, unknown languages rejected."""
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["language"] not in LANGUAGES:
            raise ValueError(f"{path}:{number}: language {row['language']!r} not in {LANGUAGES}")
        queries.append(EvalQuery(str(row["query"]), str(row["language"]), str(row["article"])))
    return queries


def article_passages(directory: Path, language: str, *, chunked: bool = True) -> list[Passage]:
    """Each article's chunks as the KB embeds them, or (chunked=False) one passage per whole article."""
    passages = []
    for article in read_articles(directory):
        if not chunked:
            passages.append(Passage(article.id, language, f"{article.title}: {article.body}"))
            continue
        for chunk in chunk_article(article.body):
            text = embedding_text(article.title, chunk.heading, chunk.text)
            passages.append(Passage(article.id, language, text))
    return passages


def demo_passages(*, chunked: bool = True) -> list[Passage]:
    """The 23 English demo articles and their 23 Chinese twins."""
    return article_passages(DEMO_EN_DIR, "en", chunked=chunked) + article_passages(
        DEMO_ZH_DIR, "zh", chunked=chunked
    )


def ranked_slugs(scores: np.ndarray, slugs: Sequence[str], keep: np.ndarray, k: int) -> list[str]:
    """The top-k distinct slugs among the kept passages, each article scored by its best passage."""
    ranked: list[str] = []
    for row in np.argsort(-np.where(keep, scores, -np.inf), kind="stable"):
        if not keep[row]:
            break
        if slugs[row] not in ranked:
            ranked.append(slugs[row])
            if len(ranked) == k:
                break
    return ranked


def _passage_filter(setting: str, query_language: str, passage_languages: np.ndarray) -> np.ndarray:
    if setting == "same-language":
        return passage_languages == query_language
    if setting == "cross-language":
        return passage_languages != query_language
    if setting == "mixed":
        return np.ones_like(passage_languages, dtype=bool)
    raise ValueError(f"unknown setting {setting!r}")


def recall_table(
    queries: Sequence[EvalQuery],
    query_vectors: np.ndarray,
    passages: Sequence[Passage],
    passage_vectors: np.ndarray,
) -> dict[str, dict[str, dict[str, float]]]:
    """{setting: {query language | "all": {"recall@1", "recall@3", "queries"}}} from unit-length vectors.

    In the mixed setting a query hits when either twin ranks within k (the slugs are the same)."""
    scores = query_vectors @ passage_vectors.T
    slugs = [p.slug for p in passages]
    languages = np.array([p.language for p in passages])
    table: dict[str, dict[str, dict[str, float]]] = {}
    for setting in SETTINGS:
        hits: dict[str, list[list[bool]]] = {lang: [] for lang in (*LANGUAGES, "all")}
        for i, query in enumerate(queries):
            keep = _passage_filter(setting, query.language, languages)
            top = ranked_slugs(scores[i], slugs, keep, max(KS))
            row = [query.article in top[:k] for k in KS]
            hits[query.language].append(row)
            hits["all"].append(row)
        table[setting] = {lang: _summarise(rows) for lang, rows in hits.items() if rows}
    return table


def _summarise(rows: list[list[bool]]) -> dict[str, float]:
    summary: dict[str, float] = {
        f"recall@{k}": round(sum(r[j] for r in rows) / len(rows), 4) for j, k in enumerate(KS)
    }
    summary["queries"] = len(rows)
    return summary


def evaluate(
    embed_queries: Embed,
    embed_passages: Embed,
    *,
    queries: Sequence[EvalQuery] | None = None,
    passages: Sequence[Passage] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Embed the set and the demo KB (by default) with the given functions and return `recall_table`."""
    queries = list(queries if queries is not None else load_eval_set())
    passages = list(passages if passages is not None else demo_passages())
    query_vectors = np.asarray(embed_queries([q.query for q in queries]), dtype=np.float32)
    passage_vectors = np.asarray(embed_passages([p.text for p in passages]), dtype=np.float32)
    return recall_table(queries, query_vectors, passages, passage_vectors)


def format_table(results: dict[str, dict[str, dict[str, dict[str, float]]]]) -> str:
    """A Markdown table: one row per encoder × setting, recall@1/@3 per query language and overall."""
    columns = [f"{lang} r@{k}" for lang in (*LANGUAGES, "all") for k in KS]
    lines = ["| encoder | setting | " + " | ".join(columns) + " |", "|---|---|" + "---:|" * len(columns)]
    for encoder, table in results.items():
        for setting, by_language in table.items():
            cells = [
                f"{by_language[lang][f'recall@{k}']:.3f}" if lang in by_language else "-"
                for lang in (*LANGUAGES, "all")
                for k in KS
            ]
            lines.append(f"| {encoder} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
