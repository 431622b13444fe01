"""Benchmark inputs: short tickets (Banking77's test texts, from HELPLOOP_DATASETS_DIR, or the demo shop's
tickets where the datasets are absent) and long ones (multi-paragraph e-mails built from several tickets,
with a greeting, order details and a signature), each optionally with gold labels."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

GREETINGS = ("Hello,", "Hi there,", "Dear support team,", "Good morning,")
SIGN_OFFS = ("Kind regards,", "Thanks in advance,", "Best wishes,", "Cheers,")


@dataclass(frozen=True)
class TextSet:
    name: str
    source: str
    texts: list[str]
    labels: list[str] | None = None


def banking77_test(datasets_dir: Path, limit: int) -> TextSet | None:
    path = Path(datasets_dir) / "banking77" / "test.csv"
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(7).shuffle(rows)
    rows = rows[:limit]
    return TextSet("short", "Banking77 test", [r["text"] for r in rows], [r["category"] for r in rows])


def demo_texts(limit: int, *, seed: int = 5) -> TextSet:
    from services.trainer.demo_data import generate_tickets

    tickets = generate_tickets(per_intent=max(2, limit // 14 + 1), seed=seed)
    random.Random(seed).shuffle(tickets)
    tickets = tickets[:limit]
    return TextSet("short", "demo-shop tickets", [t.text for t in tickets], [t.label for t in tickets])


def short_texts(datasets_dir: Path, limit: int) -> TextSet:
    return banking77_test(datasets_dir, limit) or demo_texts(limit)


def long_emails(base: TextSet, limit: int, *, paragraphs: int = 5, seed: int = 11) -> TextSet:
    """E-mails of `paragraphs` tickets each (about 150–300 tokens): greeting, the first ticket's text as
    the request (its label is the e-mail's), context paragraphs, order details, a signature."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(limit):
        first = i % len(base.texts)
        others = [base.texts[rng.randrange(len(base.texts))] for _ in range(paragraphs - 1)]
        body = [
            rng.choice(GREETINGS),
            base.texts[first],
            "Some background: " + " ".join(others[:2]),
            "I also tried the following before writing to you. " + " ".join(others[2:]),
            f"My customer number is C-{rng.randrange(10**6):06d}, "
            f"the reference is R-{rng.randrange(10**8):08d}. "
            "I have attached the screenshots from the app and the e-mail confirmation I received earlier.",
            f"{rng.choice(SIGN_OFFS)}\nAlex Doe",
        ]
        texts.append("\n\n".join(body))
        labels.append(base.labels[first] if base.labels else "")
    return TextSet(
        "long", f"multi-paragraph e-mails from {base.source}", texts, labels if base.labels else None
    )
