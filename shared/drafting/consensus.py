"""Several drafts, the one they agree on: minimum-Bayes-risk selection by chrF.

Greedy decoding gives the model's single most likely path, which for a terse helpdesk reply is often
generic. Drafting `candidates` drafts instead — the greedy one and `candidates - 1` sampled ones
(temperature 0.7, top-p 0.9, seeded per ticket so the same ticket gets the same drafts) — and keeping the
one with the highest chrF against all the others picks the reply whose wording the model keeps coming
back to: the expected chrF against the agent's real reply is highest for it (MBR decoding; Kumar & Byrne
2004, Freitag et al. 2022 for neural models). Drafts the guardrails flag are not chosen while a clean one
exists; ties go to the greedy draft. The drafting workers and `helploop evaluate-generator --candidates`
share these functions, so the evaluation measures what is served.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from shared.drafting.adoption import chrf
from shared.drafting.resample import RESAMPLE_TEMPERATURE, RESAMPLE_TOP_P

if TYPE_CHECKING:
    from shared.runtime.generator import Generation, GenerationConfig

CONSENSUS_SEED = 101  # the sampled candidates' seed (resampling uses 1, 2, …: another stream)


def sampled_config(config: GenerationConfig) -> GenerationConfig:
    """The decoding of the sampled candidates: the served options, sampled, with a fixed seed."""
    return replace(config, temperature=RESAMPLE_TEMPERATURE, top_p=RESAMPLE_TOP_P, seed=CONSENSUS_SEED)


def agreement(texts: Sequence[str]) -> list[float]:
    """Each text's mean chrF against the others (itself left out)."""
    if len(texts) < 2:
        return [0.0] * len(texts)
    return [
        sum(chrf(text, other) for j, other in enumerate(texts) if j != i) / (len(texts) - 1)
        for i, text in enumerate(texts)
    ]


def most_agreed(texts: Sequence[str], *, eligible: Sequence[bool] | None = None) -> int:
    """The index of the text the others agree with most, among the `eligible` ones when any is (the
    first, the greedy draft, on a tie)."""
    scores = agreement(texts)
    allowed = [i for i in range(len(texts)) if eligible is None or eligible[i]] or list(range(len(texts)))
    return max(allowed, key=lambda i: (scores[i], -i))


def sampled_drafts(
    generate: Callable[[list[str], GenerationConfig], list[Generation]],
    prompts: list[str],
    config: GenerationConfig,
    count: int,
    *,
    batch: int = 8,
) -> list[list[Generation]]:
    """Per prompt, `count` sampled drafts beside its greedy one (each prompt repeated in the batch; the
    rows are sampled independently)."""
    out: list[list[Generation]] = [[] for _ in prompts]
    rows = [i for i in range(len(prompts)) for _ in range(max(0, count))]
    sampled = sampled_config(config)
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        for i, generation in zip(chunk, generate([prompts[i] for i in chunk], sampled), strict=True):
            out[i].append(generation)
    return out


def choose(drafts: list[Generation], *, clean: Sequence[bool] | None = None) -> tuple[Generation, int]:
    """(the draft kept, its index); its `seconds` counts what the ticket waited: the greedy draft, then the
    sampled ones (one batch: each row carries the batch's time)."""
    index = most_agreed([d.text for d in drafts], eligible=clean)
    waited = drafts[0].seconds + max((d.seconds for d in drafts[1:]), default=0.0)
    return replace(drafts[index], seconds=waited), index
