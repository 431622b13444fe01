"""Did the agent keep the draft? The reply an agent finally sent, compared with the draft we offered.

Measures (both on PII-redacted text, whitespace collapsed, case folded):
- chrF (character 1-6-grams, β = 2, as sacrebleu computes it: meaningful for Chinese and English alike);
- normalised edit distance: word-level Levenshtein distance (each Chinese character is a word) divided
  by the longer text's length — 0 for identical texts, 1 for nothing in common.

Classes (thresholds in `ADOPTION_THRESHOLDS`, documented in docs/drafts.md):
- `sent_as_is`: edit distance ≤ 0.05 (a fixed typo or a changed greeting at most);
- `edited`: edit distance ≤ 0.6, or chrF ≥ 50 (the agent kept a good part of it);
- `discarded`: the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

ADOPTION_THRESHOLDS = {"sent_as_is_max_distance": 0.05, "edited_max_distance": 0.6, "edited_min_chrf": 50.0}
SENT_AS_IS, EDITED, DISCARDED = "sent_as_is", "edited", "discarded"
OUTCOMES = (SENT_AS_IS, EDITED, DISCARDED)
_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\s\u3400-\u9fff]+")


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf(hypothesis: str, reference: str, *, order: int = 6, beta: float = 2.0) -> float:
    """Sentence chrF (0-100): character n-gram F-score averaged over n = 1..6, whitespace removed."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    precisions, recalls = [], []
    for n in range(1, order + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        if not h or not r:
            continue
        overlap = sum((h & r).values())
        precisions.append(overlap / sum(h.values()))
        recalls.append(overlap / sum(r.values()))
    if not precisions:
        return 100.0 if hyp == ref else 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p + r == 0:
        return 0.0
    return 100.0 * (1 + beta**2) * p * r / (beta**2 * p + r)


def edit_distance(a: str, b: str) -> float:
    """Word-level Levenshtein distance / the longer length (Chinese characters are words)."""
    x, y = _TOKEN.findall(a), _TOKEN.findall(b)
    if not x and not y:
        return 0.0
    previous = list(range(len(y) + 1))
    for i, token in enumerate(x, start=1):
        current = [i]
        for j, other in enumerate(y, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (token != other)))
        previous = current
    return previous[-1] / max(len(x), len(y))


@dataclass(frozen=True)
class Adoption:
    outcome: str
    chrf: float
    edit_distance: float


def compare(draft: str, reply: str) -> Adoption:
    """How the agent's final `reply` relates to the `draft` (both already redacted)."""
    d, r = normalise(draft), normalise(reply)
    score, distance = chrf(d, r), edit_distance(d, r)
    limits = ADOPTION_THRESHOLDS
    if distance <= limits["sent_as_is_max_distance"]:
        outcome = SENT_AS_IS
    elif distance <= limits["edited_max_distance"] or score >= limits["edited_min_chrf"]:
        outcome = EDITED
    else:
        outcome = DISCARDED
    return Adoption(outcome, round(score, 2), round(distance, 4))


def summarise(rows: list[Any]) -> dict[str, Any]:
    """Outcome counts and rates, mean chrF and mean edit distance of rows that have `outcome`, `chrf`
    and `edit_distance` (adoptions, scored shadow drafts)."""
    counts = Counter(r.outcome for r in rows)
    n = len(rows)
    kept = counts[SENT_AS_IS] + counts[EDITED]
    return {
        "resolved_with_draft": n,
        **{outcome: counts[outcome] for outcome in OUTCOMES},
        "adoption_rate": round(kept / n, 4) if n else None,  # sent as is or edited
        "sent_as_is_rate": round(counts[SENT_AS_IS] / n, 4) if n else None,
        "mean_chrf": round(sum(r.chrf or 0.0 for r in rows) / n, 2) if n else None,
        "mean_edit_distance": round(sum(r.edit_distance or 0.0 for r in rows) / n, 4) if n else None,
    }
