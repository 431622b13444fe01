"""New kinds of requests, surfaced: recent out-of-scope and low-confidence tickets clustered into candidate
intents, each with a proposed name (its distinctive keywords), its size and the tickets nearest its centre,
so a team lead can add it to the label set instead of watching it pile up as `out_of_scope`.

Texts are embedded with the knowledge base's sentence encoder (multilingual-e5) and clustered per language
(in one multilingual space, texts also group by language: two Chinese tickets about different things sit
closer than a Chinese and an English one about the same) with k-means, the number of clusters chosen by the
cosine silhouette — a team does not know how many new intents there are. Clusters under `min_size` tickets
are left unclustered. Chosen by
measurement on CLINC150 (`helploop intents evaluate`, docs/models.md), against k-means told the true number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNCLUSTERED = -1
_CJK = re.compile(r"[\u3400-\u9fff]")
_STOP_WORDS = (
    "a an the i me my we our you your it is are was be to of in on for with and or but not no do does did "
    "can could would should will have has had this that what how why when where which who please hi hello "
    "thanks thank there there's i'm im i'd i've i'll don't can't get got just about from at by as so if any"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


@dataclass(frozen=True)
class Suggestion:
    name: str  # the top keywords, joined: a starting point for the intent's name
    keywords: list[str]
    size: int
    language: str  # the tickets' language (clustered per language)
    examples: list[str]  # the texts nearest the cluster's centre
    ids: list[str] = field(default_factory=list)  # the tickets, nearest first


def _unit(embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


def cluster(embeddings: np.ndarray, *, min_size: int = 3, max_k: int = 60, seed: int = 0) -> np.ndarray:
    """A cluster per row (UNCLUSTERED for clusters smaller than `min_size`): k-means on unit vectors, k
    from 2 to `max_k` (at most one cluster per `min_size` rows) by the best cosine silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    vectors = _unit(np.asarray(embeddings, dtype=np.float32))
    n = len(vectors)
    if n < 2 * min_size:
        return np.full(n, UNCLUSTERED if n < min_size else 0)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(max_k, n // min_size) + 1):
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(vectors)
        score = float(silhouette_score(vectors, labels, metric="cosine"))
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    labels = best[1].copy()
    sizes = np.bincount(labels)
    labels[sizes[labels] < min_size] = UNCLUSTERED
    return labels


def by_language(
    texts: Sequence[str], vectors: np.ndarray, *, min_size: int = 3
) -> tuple[list[str], np.ndarray]:
    """(each text's language, its cluster): every language clustered on its own, cluster ids kept apart."""
    from shared.runtime.language import detect_language

    languages = [detect_language(t).language or "unknown" for t in texts]
    labels = np.full(len(texts), UNCLUSTERED)
    for language in sorted(set(languages)):
        rows = np.array([i for i, lang in enumerate(languages) if lang == language])
        found = cluster(vectors[rows], min_size=min_size)
        offset = labels.max(initial=UNCLUSTERED) + 1
        labels[rows] = np.where(found == UNCLUSTERED, UNCLUSTERED, found + offset)
    return languages, labels


def _analyzer(text: str) -> list[str]:
    """Words of spaced scripts (stop words dropped), character bigrams of Chinese."""
    words = [w for w in re.findall(r"[a-z][a-z'\-]+", text.lower()) if w not in _STOP and len(w) > 2]
    chinese = "".join(_CJK.findall(text))
    return words + [chinese[i : i + 2] for i in range(len(chinese) - 1)]


def keywords(texts: Sequence[str], labels: np.ndarray, *, top: int = 3) -> dict[int, list[str]]:
    """The terms most distinctive of each cluster against the others (TF-IDF over clusters as documents)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    clusters = sorted(int(c) for c in set(labels.tolist()) if c != UNCLUSTERED)
    if not clusters:
        return {}
    documents = [" \n ".join(t for t, c in zip(texts, labels, strict=True) if c == k) for k in clusters]
    vectorizer = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True)
    matrix = vectorizer.fit_transform(documents).toarray()
    vocabulary = np.array(vectorizer.get_feature_names_out())
    return {k: vocabulary[np.argsort(-row)[:top]].tolist() for k, row in zip(clusters, matrix, strict=True)}


def suggest(
    texts: Sequence[str],
    embeddings: np.ndarray,
    *,
    ids: Sequence[str] | None = None,
    min_size: int = 3,
    examples: int = 5,
) -> list[Suggestion]:
    """Candidate intents, largest first."""
    vectors = _unit(np.asarray(embeddings, dtype=np.float32))
    languages, labels = by_language(texts, vectors, min_size=min_size)
    names = keywords(texts, labels)
    ids = list(ids) if ids is not None else [str(i) for i in range(len(texts))]
    out = []
    for k, words in names.items():
        members = np.flatnonzero(labels == k)
        centre = _unit(vectors[members].mean(axis=0, keepdims=True))[0]
        order = members[np.argsort(-(vectors[members] @ centre))]
        out.append(
            Suggestion(
                name=" / ".join(words),
                keywords=words,
                size=len(members),
                language=languages[int(members[0])],
                examples=[texts[i] for i in order[:examples]],
                ids=[ids[i] for i in order],
            )
        )
    return sorted(out, key=lambda s: -s.size)


def cluster_accuracy(gold: np.ndarray, predicted: np.ndarray) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes (unclustered rows count wrong)."""
    from scipy.optimize import linear_sum_assignment

    classes, clusters = np.unique(gold), np.unique(predicted[predicted != UNCLUSTERED])
    counts = np.array([[np.sum((predicted == c) & (gold == g)) for g in classes] for c in clusters])
    if counts.size == 0:
        return 0.0
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(gold))


def score_clustering(gold: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """NMI, ARI and cluster accuracy; unclustered rows are singletons for NMI and ARI."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    singles = predicted.copy()
    loose = np.flatnonzero(singles == UNCLUSTERED)
    singles[loose] = singles.max(initial=0) + 1 + np.arange(len(loose))
    return {
        "clusters": len(set(predicted.tolist()) - {UNCLUSTERED}),
        "unclustered": len(loose),
        "nmi": round(float(normalized_mutual_info_score(gold, singles)), 4),
        "ari": round(float(adjusted_rand_score(gold, singles)), 4),
        "cluster_accuracy": round(cluster_accuracy(gold, predicted), 4),
    }


def uncertain_tickets(
    session_factory: Any, *, days: float, max_confidence: float, limit: int
) -> list[tuple[str, str]]:
    """(id, text) of tickets received in the last `days` whose latest classification is out of scope or
    below `max_confidence`, newest first."""
    from datetime import timedelta

    from sqlalchemy import select

    from shared.db import session_scope
    from shared.db.base import utcnow
    from shared.tickets.models import Ticket

    since = utcnow() - timedelta(days=days)
    query = select(Ticket).where(Ticket.received_at >= since).order_by(Ticket.received_at.desc())
    found: list[tuple[str, str]] = []
    with session_scope(session_factory) as session:
        for ticket in session.scalars(query.limit(limit * 4)):
            latest = ticket.latest_result
            if latest is not None and (latest.out_of_scope or latest.confidence < max_confidence):
                found.append((ticket.id, ticket.text))
            if len(found) >= limit:
                break
    return found


def evaluate_held_out(
    texts: Sequence[str], gold: Sequence[str], embeddings: np.ndarray, *, seed: int = 0
) -> dict[str, Any]:
    """Ours (k chosen by silhouette, min size 3) beside k-means told the true number of intents."""
    from sklearn.cluster import KMeans

    classes = sorted(set(gold))
    truth = np.array([classes.index(g) for g in gold])
    vectors = _unit(np.asarray(embeddings, dtype=np.float32))
    known_k = KMeans(len(classes), n_init=10, random_state=seed).fit_predict(vectors)
    return {
        "texts": len(texts),
        "intents": len(classes),
        "suggested": score_clustering(truth, cluster(vectors, seed=seed)),
        "kmeans_true_k": score_clustering(truth, known_k),
    }
