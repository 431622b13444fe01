"""A second chance for a flagged draft: sample again, keep the first draft the guardrails pass.

Greedy decoding gives one draft per prompt; when the guardrails flag it (a figure made up, an order id
nobody wrote, a contradiction), the model usually knows better on another path. A flagged draft is
sampled again up to `attempts` times (temperature 0.7, top-p 0.9, seeds 1, 2, … so the same ticket gets
the same drafts) and the first clean one is kept; when none is clean the greedy draft stays, with its
flags. The drafting workers and `helploop evaluate-generator` share this function, so the evaluation
measures what is served. Time is spent only on flagged drafts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.drafting.guardrails import GuardrailReport
    from shared.runtime.generator import Generation, GenerationConfig

RESAMPLE_TEMPERATURE = 0.7
RESAMPLE_TOP_P = 0.9


def resample_configs(config: GenerationConfig, attempts: int) -> list[GenerationConfig]:
    """The decoding of each further attempt: the served options, sampled, with a fixed seed each."""
    return [
        replace(config, temperature=RESAMPLE_TEMPERATURE, top_p=RESAMPLE_TOP_P, seed=attempt)
        for attempt in range(1, attempts + 1)
    ]


def first_clean(
    first: tuple[Generation, GuardrailReport],
    *,
    generate: Callable[[GenerationConfig], Generation],
    check: Callable[[Generation], GuardrailReport],
    configs: list[GenerationConfig],
) -> tuple[Generation, GuardrailReport, int]:
    """(the draft kept, its report, further attempts made). The kept draft's `seconds` counts every
    attempt, so a draft's latency is what the ticket waited."""
    generation, report = first
    if report.ok:
        return generation, report, 0
    seconds = generation.seconds
    for attempt, config in enumerate(configs, start=1):
        candidate = generate(config)
        seconds += candidate.seconds
        candidate_report = check(candidate)
        if candidate_report.ok:
            return replace(candidate, seconds=seconds), candidate_report, attempt
    return replace(generation, seconds=seconds), report, len(configs)
