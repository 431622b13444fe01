"""A flagged draft is sampled again and the first clean one kept (shared/drafting/resample.py), with the
real guardrails; the drafting worker serves it that way."""

from __future__ import annotations

import functools
from dataclasses import replace

from prometheus_client import REGISTRY

from services.inference.drafting import DraftContext, TicketFacts, generate_checked
from shared.drafting.guardrails import Flag, check_draft
from shared.drafting.resample import RESAMPLE_TEMPERATURE, first_clean, resample_configs
from shared.runtime.generator import Generation, GenerationConfig

TICKET = "Order NW-12345 still hasn't arrived after two weeks."
INVENTED = "Hi Sam,\n\nI'm sorry order NW-99999 is late: we have opened a trace with the carrier."
CLEAN = "Hi Sam,\n\nI'm sorry order NW-12345 is late: we have opened a trace with the carrier."


def _generation(text: str, seconds: float = 1.0) -> Generation:
    return Generation(text, [1, 2, 3], 10, "eos", seconds, 0.1)


def _check(generation: Generation):  # type: ignore[no-untyped-def]
    return check_draft(generation.text, ticket_text=TICKET, cited_articles=[], language="en")


class _Scripted:
    """A fine-tuned generator that answers with `answers`, one per call."""

    version, languages, fine_tuned, prompt_language = "g1", ["en"], True, True

    def __init__(self, *answers: str) -> None:
        self.answers = iter(answers)

    def generate(self, batch: list[str], config: GenerationConfig) -> list[Generation]:
        return [_generation(next(self.answers))]


def test_further_attempts_are_sampled_with_their_own_seeds() -> None:
    greedy = GenerationConfig(max_new_tokens=64, no_repeat_ngram=4)
    configs = resample_configs(greedy, 2)
    assert [c.seed for c in configs] == [1, 2] and {c.temperature for c in configs} == {RESAMPLE_TEMPERATURE}
    assert all(replace(c, temperature=0.0, top_p=greedy.top_p, seed=None) == greedy for c in configs)
    assert resample_configs(greedy, 0) == []


def test_the_first_clean_draft_is_kept_and_the_time_of_every_attempt_counted() -> None:
    asked: list[GenerationConfig] = []
    answers = iter([INVENTED, CLEAN, "never asked"])

    def generate(config: GenerationConfig) -> Generation:
        asked.append(config)
        return _generation(next(answers), seconds=2.0)

    first = _generation(INVENTED)
    assert Flag.UNGROUNDED in _check(first).flags
    kept, report, attempts = first_clean(
        (first, _check(first)),
        generate=generate,
        check=_check,
        configs=resample_configs(GenerationConfig(), 3),
    )
    assert kept.text == CLEAN and report.ok and attempts == 2 and kept.seconds == 5.0
    assert [c.seed for c in asked] == [1, 2]


def test_a_clean_greedy_draft_is_not_sampled_again_and_a_hopeless_one_keeps_its_flags() -> None:
    def never(config: GenerationConfig) -> Generation:
        raise AssertionError("a clean draft was sampled again")

    clean = _generation(CLEAN)
    assert (
        first_clean(
            (clean, _check(clean)),
            generate=never,
            check=_check,
            configs=resample_configs(GenerationConfig(), 2),
        )[2]
        == 0
    )
    bad = _generation(INVENTED)
    kept, report, attempts = first_clean(
        (bad, _check(bad)),
        generate=lambda config: _generation(INVENTED),
        check=_check,
        configs=resample_configs(GenerationConfig(), 2),
    )
    assert kept.text == INVENTED and Flag.UNGROUNDED in report.flags and attempts == 2 and kept.seconds == 3.0


def test_the_worker_serves_the_first_clean_draft_and_resamples_only_when_allowed() -> None:
    facts = TicketFacts(TICKET, "where_is_my_order", "Sam Lee", "en")

    Scripted = functools.partial(_Scripted, INVENTED, CLEAN)

    def resampled(outcome: str) -> float:
        return REGISTRY.get_sample_value("helploop_draft_resamples_total", {"outcome": outcome}) or 0.0

    before = resampled("clean")
    served, report = generate_checked(
        DraftContext(None, None, None, GenerationConfig()), Scripted(), facts, []
    )  # type: ignore[arg-type]
    assert served.text == CLEAN and report.ok and resampled("clean") == before + 1
    off = DraftContext(None, None, None, GenerationConfig(), resample_attempts=0)  # type: ignore[arg-type]
    greedy, report = generate_checked(off, Scripted(), facts, [])
    assert greedy.text == INVENTED and Flag.UNGROUNDED in report.flags


def test_a_clean_draft_without_the_tickets_id_is_sampled_again_and_kept_if_none_does_better() -> None:
    from shared.drafting.references import repeats_reference

    vague = "Hi Sam,\n\nI'm sorry your order is late: we have opened a trace with the carrier."
    prefer = repeats_reference(TICKET)
    assert prefer is not None and repeats_reference("my parcel is late") is None
    answers = iter([INVENTED, CLEAN])
    kept, report, attempts = first_clean(
        (_generation(vague), _check(_generation(vague))),
        generate=lambda _config: _generation(next(answers)),
        check=_check,
        configs=resample_configs(GenerationConfig(), 3),
        prefer=prefer,
    )
    assert kept.text == CLEAN and report.ok and attempts == 2  # the invented id (flagged) was passed over
    kept, report, attempts = first_clean(
        (_generation(vague), _check(_generation(vague))),
        generate=lambda _config: _generation(INVENTED),
        check=_check,
        configs=resample_configs(GenerationConfig(), 2),
        prefer=prefer,
    )
    assert kept.text == vague and report.ok and attempts == 2  # no attempt did better: the clean greedy one


def test_the_worker_gives_a_follow_up_a_second_chance_to_name_the_earlier_order() -> None:
    from datetime import date

    from shared.drafting.prompt import EarlierTicket

    earlier = EarlierTicket(
        "2026-11-02",
        "where_is_my_order",
        "Where is order NW-12345?",
        "I've opened a trace for order NW-12345.",
    )
    vague = "Hi Sam,\n\nI'm sorry your parcel is still late: we are chasing the carrier."
    named = "Hi Sam,\n\nI'm sorry the parcel for order NW-12345 is still late: we are chasing the carrier."

    Scripted = functools.partial(_Scripted, vague, named)

    context = DraftContext(None, None, None, GenerationConfig())  # type: ignore[arg-type]
    followup = TicketFacts("Still nothing here.", "where_is_my_order", "Sam Lee", "en", (earlier,))
    recent = replace(followup, received=date(2026, 11, 12))
    assert generate_checked(context, Scripted(), recent, [])[0].text == named  # the history grounds NW-12345
    stale = replace(followup, received=date(2027, 3, 1))  # months later: a new matter, the vague one stands
    assert generate_checked(context, Scripted(), stale, [])[0].text == vague
    new_matter = replace(recent, intent="product_question")  # the same customer asking something else
    assert generate_checked(context, Scripted(), new_matter, [])[0].text == vague
