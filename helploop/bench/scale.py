"""How much each `make bench` section measures: `FULL` for the numbers in docs/benchmarks.md, `SMOKE`
(`helploop bench --smoke`) for a run of every section on tiny inputs in about three minutes — what the
test suite runs, so that a change which breaks a section breaks `make test`, not the next person's
benchmark."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    # classification: texts per set, texts scored against fp32/labels
    short_tickets: int = 256
    long_tickets: int = 48
    quality_tickets: int = 1000
    # timed passes over each batch size (median), after one untimed warm-up pass when `warm_up`
    # (classification; generation warms up once per batch size)
    passes: int = 2
    warm_up: bool = True
    # the other base's demo classifier, trained for the run
    other_base_steps: int = 30
    other_base_per_intent: int = 30
    # generation (and the memory section's drafts)
    new_tokens: int = 48
    generation_repeats: int = 3
    generation_batches: tuple[int, ...] = (1, 8)
    generation_prompts: int = 8  # drafting prompts (150-205 tokens), each drafted alone for the chrF vs fp32
    drafting_prompts: bool = True  # False: each ticket alone as a one-line chat (15-40 tokens)
    # end to end: texts sent, seconds per rate step, the rate ladder, refinement between the last
    # sustained rate and the first that was not, in-process reference tickets
    endtoend_texts: int = 1000
    step_seconds: float = 6.0
    rates: tuple[float, ...] = (10, 25, 50, 75, 100, 150, 200, 300)
    refine_to: float = 5.0  # stop refining once the gap is this many tickets/s (0: no refinement)
    in_process_tickets: int = 300
    warm_up_s: float = 2.0  # each worker set-up first takes tickets at 100/s for this long (every length)
    gateway_workers: int = 2
    profile: bool = True  # a py-spy step per worker set-up
    max_worker_processes: int = 8  # scale-out: prefork with 2 … min(cores, this) processes
    # batched reclassification: None takes the command line's --tickets / --single-tickets
    backlog: int | None = None
    single_tickets: int | None = None
    # the console: tickets in the inbox, requests per page
    console_tickets: int = 100_000
    console_repeats: int = 20


FULL = Scale()
SMOKE = Scale(
    short_tickets=8,
    long_tickets=2,
    quality_tickets=8,
    passes=1,
    warm_up=False,
    other_base_steps=1,
    other_base_per_intent=2,
    new_tokens=2,
    generation_repeats=1,
    generation_batches=(1, 2),
    generation_prompts=2,
    drafting_prompts=False,
    endtoend_texts=20,
    step_seconds=1.0,
    rates=(5, 10),
    refine_to=0.0,
    in_process_tickets=34,
    warm_up_s=0.1,
    gateway_workers=1,
    profile=False,
    max_worker_processes=2,
    backlog=40,
    single_tickets=6,
    console_tickets=600,
    console_repeats=2,
)
