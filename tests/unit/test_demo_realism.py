"""The demo shop's inbox realism: e-mail threads the normaliser reads back to the new message, two requests
labelled with either, vague tickets — at the stated shares, seeded, in English and Chinese."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import pytest

from helploop.cli.main import main
from services.trainer import demo_realism
from services.trainer.demo_data import DemoTicket, generate_tickets
from services.trainer.demo_realism import Realism
from services.trainer.demo_realism_eval import scores
from shared.tickets.normalise import normalise_ticket

LANGUAGES = ("en", "zh")


@pytest.fixture(scope="module")
def pairs() -> list[tuple[DemoTicket, DemoTicket]]:
    """(templated, realistic) for the same draw: 80 per intent and language, as `make run` writes."""
    templated = generate_tickets(per_intent=80, seed=13, languages=LANGUAGES)
    realistic = generate_tickets(per_intent=80, seed=13, languages=LANGUAGES, realism=Realism())
    assert len(templated) == len(realistic) == 80 * 14 * 2
    return list(zip(templated, realistic, strict=True))


def kind(before: DemoTicket, after: DemoTicket) -> str:
    if after.text == before.text:
        return "unchanged"
    if after.body in demo_realism._VAGUE + demo_realism._VAGUE_ZH:
        return "vague"
    connectives = demo_realism._CONNECTIVES + demo_realism._CONNECTIVES_ZH
    if any(f"\n\n{c}" in after.body for c in connectives) and after.body != before.body:
        return "two_requests"
    return "thread"


def test_each_layer_rewrites_its_share_and_nothing_else(pairs: list) -> None:
    counts: dict[str, int] = {}
    for before, after in pairs:
        counts[kind(before, after)] = counts.get(kind(before, after), 0) + 1
    share = {name: count / len(pairs) for name, count in counts.items()}
    assert abs(share["thread"] - 0.15) < 0.03 and abs(share["two_requests"] - 0.08) < 0.025, share
    assert abs(share["vague"] - 0.03) < 0.015, share
    for language in ("en", "zh"):  # both languages get every layer
        chinese = [kind(b, a) for b, a in pairs if demo_realism._chinese(b) == (language == "zh")]
        assert {"thread", "two_requests", "vague"} <= set(chinese), language


def test_a_thread_quotes_another_intent_and_normalises_back_to_the_new_message(pairs: list) -> None:
    threads = [(b, a) for b, a in pairs if kind(b, a) == "thread"]
    bodies = {t.body: t.label for t, _ in pairs}
    for before, after in threads:
        assert after.label == before.label and after.body.startswith(before.body)
        quoted = after.body[len(before.body) :]
        assert not any(body in quoted for body, label in bodies.items() if label == before.label and body)
        assert normalise_ticket(after.body).text == normalise_ticket(before.body).text, after.body
    chinese = [a.body for b, a in threads if demo_realism._chinese(b)]
    assert chinese and all("写道" in body or "原始邮件" in body for body in chinese)


def test_two_requests_are_filed_under_either(pairs: list) -> None:
    two = [(b, a) for b, a in pairs if kind(b, a) == "two_requests"]
    cores = [(demo_realism._core(t), t) for t, _ in pairs]  # one core text can belong to several tickets
    second = 0
    for before, after in two:
        assert demo_realism._core(before) in after.body
        others = [t for core, t in cores if t.label != before.label and core in after.body]
        assert others  # the second request is another intent's ticket
        if after.label != before.label:  # filed under the second request: its labels come with it
            second += 1
            filed = {(o.label, o.sentiment, o.priority) for o in others}
            assert (after.label, after.sentiment, after.priority) in filed
    assert 0.35 < second / len(two) < 0.65  # the position of a request does not give its label away


def test_no_realism_is_the_templates_and_shares_are_checked() -> None:
    plain = generate_tickets(per_intent=10, seed=5, languages=LANGUAGES)
    assert generate_tickets(per_intent=10, seed=5, languages=LANGUAGES, realism=Realism(0, 0, 0)) == plain
    same = generate_tickets(per_intent=10, seed=5, languages=LANGUAGES, realism=Realism())
    assert same == generate_tickets(per_intent=10, seed=5, languages=LANGUAGES, realism=Realism())
    with pytest.raises(ValueError, match="sum to <= 1"):
        Realism(0.6, 0.3, 0.2)


def test_the_demo_data_command_writes_the_realistic_inbox_unless_asked(tmp_path: Path) -> None:
    for flags, name in (([], "real.csv"), (["--templated"], "plain.csv")):
        args = ["demo-data", "--out", str(tmp_path / name), "--per-intent", "10", "--languages", "en,zh"]
        assert main([*args, *flags]) == 0
    real, plain = (
        [r["text"] for r in csv.DictReader((tmp_path / n).open())] for n in ("real.csv", "plain.csv")
    )
    assert plain == [t.text for t in generate_tickets(per_intent=10, seed=13, languages=LANGUAGES)]
    assert len(real) == len(plain) and sum(r != p for r, p in zip(real, plain, strict=True)) > 0.15 * len(
        real
    )


class Scripted:
    """A classifier that answers fixed probabilities (the interface `scores` reads)."""

    def __init__(self, labels: list[str], rows: list[list[float]]) -> None:
        self.heads = [SimpleNamespace(labels=labels)]
        self.rows = rows

    def predict(self, texts: list[str], *, top_k: int) -> list[SimpleNamespace]:
        assert len(texts) == len(self.rows) and top_k == len(self.heads[0].labels)
        ranked = [
            sorted(zip(self.heads[0].labels, row, strict=True), key=lambda x: -x[1]) for row in self.rows
        ]
        return [SimpleNamespace(primary=SimpleNamespace(top_k=r)) for r in ranked]


def test_the_realism_report_scores_accuracy_calibration_and_certainty() -> None:
    tickets = generate_tickets(per_intent=1, seed=3)[:4]
    labels = sorted({t.label for t in tickets} | {"other"})
    rows = []
    for i, ticket in enumerate(tickets):  # sure and right, sure and right, sure and wrong, unsure and right
        row = [0.0] * len(labels)
        row[labels.index(ticket.label if i != 2 else "other")] = 0.995 if i < 3 else 0.6
        row[labels.index("other") if i != 2 else labels.index(ticket.label)] += 1 - max(row)
        rows.append(row)
    result = scores(Scripted(labels, rows), tickets)
    ece = 0.75 * (0.995 - 2 / 3) + 0.25 * (1 - 0.6)  # two bins: 0.995 (2 of 3 right) and 0.6 (right)
    assert result == {"accuracy": 0.75, "ece": pytest.approx(ece, abs=1e-4), "over_0_99": 0.75}
