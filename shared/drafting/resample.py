"""A second chance for a flagged draft: sample again, keep the first draft the guardrails pass.

Greedy decoding gives one draft per prompt; when the guardrails flag it (a figure made up, an order id
nobody wrote, a contradiction), the model usually knows better on another path. A flagged draft is
sampled again up to `attempts` times (temperature 0.7, top-p 0.9, seeds 1, 2, … so the same ticket gets
the same drafts) and the first clean one is kept; when none is clean the greedy draft stays, with its
flags. A clean draft that does not repeat the ticket's error code or order number back — or, for a
follow-up that names none, the order of the customer's earlier ticket (`shared.drafting.references`) — gets
the same second chance, and is kept when no attempt does better.
The drafting workers and `helploop evaluate-generator` share this function, so the evaluation measures
what is served. Time is spent only on those drafts.
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
    prefer: Callable[[Generation], bool] | None = None,
) -> tuple[Generation, GuardrailReport, int]:
    """(the draft kept, its report, further attempts made). With `prefer` (a draft that repeats the
    ticket's error code or order number back), a clean draft without it is sampled again too, and the
    first clean one with it is kept — else the first clean one. The kept draft's `seconds` counts every
    attempt, so a draft's latency is what the ticket waited."""
    generation, report = first
    wanted = prefer or (lambda _generation: True)
    if report.ok and wanted(generation):
        return generation, report, 0
    seconds = generation.seconds
    fallback = (generation, report) if report.ok else None
    for attempt, config in enumerate(configs, start=1):
        candidate = generate(config)
        seconds += candidate.seconds
        candidate_report = check(candidate)
        if candidate_report.ok and wanted(candidate):
            return replace(candidate, seconds=seconds), candidate_report, attempt
        if candidate_report.ok and fallback is None:
            fallback = (candidate, candidate_report)
    kept, kept_report = fallback or (generation, report)
    return replace(kept, seconds=seconds), kept_report, len(configs)
