"""Several drafts, the most agreed one served (shared/drafting/consensus.py): chrF MBR selection, the
sampled candidates' decoding and batching, and the drafting worker serving it with the real guardrails."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.inference.drafting import DraftContext, TicketFacts, generate_checked
from shared.drafting.consensus import (
    CONSENSUS_SEED,
    agreement,
    choose,
    most_agreed,
    sampled_drafts,
)
from shared.drafting.resample import RESAMPLE_TEMPERATURE
from shared.runtime.generator import Generation, GenerationConfig

TICKET = "Order NW-12345 still hasn't arrived after two weeks."
TRACE = "Hi Sam,\n\nI'm sorry order NW-12345 is late: we have opened a trace with the carrier today."
TRACE_2 = "Hi Sam,\n\nSorry that order NW-12345 is late: we have opened a trace with the carrier."
TRACE_3 = "Hi Sam,\n\nI'm sorry order NW-12345 is late. We opened a trace with the carrier."
ODD = "Hi Sam,\n\nThank you for your feedback about our kettles, we love hearing from customers."
INVENTED = "Hi Sam,\n\nI'm sorry order NW-99999 is late: we have opened a trace with the carrier today."


def _generation(text: str, seconds: float = 1.0) -> Generation:
    return Generation(text, [1, 2, 3], 10, "eos", seconds, 0.1)


def test_the_draft_the_others_agree_with_is_chosen_and_a_tie_goes_to_greedy() -> None:
    texts = [ODD, TRACE_2, TRACE, TRACE_3]
    scores = agreement(texts)
    assert scores[0] == min(scores) and most_agreed(texts) in (1, 2, 3)
    assert most_agreed([TRACE, TRACE]) == 0 and most_agreed([ODD]) == 0
    # only eligible (clean) drafts are chosen while one is; none eligible: all are
    best = most_agreed(texts)
    eligible = [i != best for i in range(4)]
    assert most_agreed(texts, eligible=eligible) not in (best,)
    assert most_agreed(texts, eligible=[False] * 4) == best


def test_sampled_candidates_are_batched_per_prompt_with_their_own_seed() -> None:
    calls: list[tuple[list[str], GenerationConfig]] = []

    def generate(prompts: list[str], config: GenerationConfig) -> list[Generation]:
        calls.append((prompts, config))
        return [_generation(f"reply to {p} #{len(calls)}") for p in prompts]

    greedy = GenerationConfig(max_new_tokens=64, no_repeat_ngram=4)
    drafts = sampled_drafts(generate, ["a", "b", "c"], greedy, 4, batch=8)
    assert [len(d) for d in drafts] == [4, 4, 4] and [len(p) for p, _ in calls] == [8, 4]
    for prompt, own in zip("abc", drafts, strict=True):  # each prompt gets its own rows back
        assert all(g.text.startswith(f"reply to {prompt} ") for g in own)
    config = calls[0][1]
    assert (config.temperature, config.seed, config.max_new_tokens) == (
        RESAMPLE_TEMPERATURE,
        CONSENSUS_SEED,
        64,
    )
    assert sampled_drafts(generate, ["a"], greedy, 0) == [[]]


def test_the_chosen_draft_counts_what_the_ticket_waited() -> None:
    drafts = [_generation(ODD, 2.0), _generation(TRACE, 3.0), _generation(TRACE_2, 3.0)]
    kept, index = choose(drafts)
    assert index in (1, 2) and kept.seconds == 5.0  # greedy, then one batch of samples


def test_the_worker_serves_the_most_agreed_clean_draft_only_when_asked() -> None:
    facts = TicketFacts(TICKET, "where_is_my_order", "Sam Lee", "en")

    class Scripted:
        version, languages, fine_tuned, prompt_language = "g1", ["en"], True, True

        def __init__(self) -> None:
            self.calls = 0

        def generate(self, batch: list[str], config: GenerationConfig) -> list[Generation]:
            self.calls += 1
            if config.temperature == 0:
                return [_generation(ODD)]
            # the invented order id agrees with the others most, but it is flagged: not served
            return [_generation(t) for t in (INVENTED, TRACE, INVENTED)[: len(batch)]]

    def kept(which: str) -> float:
        return REGISTRY.get_sample_value("helploop_draft_candidates_chosen_total", {"kept": which}) or 0.0

    before = kept("sampled")
    asked = DraftContext(None, None, None, GenerationConfig(), candidates=4)  # type: ignore[arg-type]
    generator = Scripted()
    served, report = generate_checked(asked, generator, facts, [])
    assert served.text == TRACE and report.ok and generator.calls == 2 and kept("sampled") == before + 1
    alone = Scripted()
    greedy_only = DraftContext(None, None, None, GenerationConfig(), resample_attempts=0)  # type: ignore[arg-type]
    served, _ = generate_checked(greedy_only, alone, facts, [])
    assert served.text == ODD and alone.calls == 1
