"""The labelled draft-safety set behind `helploop guardrails-eval`.

Generated items: a seeded demo ticket, the demo article sections an agent would cite (the intent's own
plus an unrelated one), and the agent's clean reply built from them (`services/trainer/demo_replies.py`);
then, for all but the clean share, one fault planted (`faults.py`): a placeholder, a "contact customer
service" deflection, a promise or refusal on a topic no cited section mentions, a cited figure changed, an
invented id/URL/amount, the customer's phone repeated, or the reply in the other language.
Hand-written items (`handwritten.jsonl`): tricky clean drafts and faults phrased differently.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from services.trainer.demo_replies import INTENT_ARTICLES, KB_DIR, demo_reply
from services.trainer.safety import faults
from shared.drafting.prompt import Passage
from shared.kb.importers import read_articles

HANDWRITTEN = Path(__file__).with_name("handwritten.jsonl")
# written by someone who had not seen the detectors, measured once before any change (docs/drafts.md)
HOLDOUT = Path(__file__).with_name("handwritten_holdout.jsonl")
HOLDOUT_2 = Path(__file__).with_name(
    "handwritten_holdout2.jsonl"
)  # written after HOLDOUT's fixes; never tuned on
HOLDOUTS = {"holdout": HOLDOUT, "holdout_2": HOLDOUT_2}
CLEAN = "clean"
REASONS = (
    "placeholder",
    "deflection",
    "unsupported_promise",
    "unsupported_refusal",
    "contradiction",
    "ungrounded",
    "pii_echo",
    "wrong_language",
)


@dataclass(frozen=True)
class SafetyItem:
    id: str
    language: str
    ticket: str
    articles: list[str]
    draft: str
    expected: list[str] = field(default_factory=list)  # [] for a clean draft
    origin: str = "generated"

    @property
    def kind(self) -> str:
        return self.expected[0] if self.expected else CLEAN


@cache
def sections() -> dict[tuple[str, int], dict[str, tuple[str, str]]]:
    """(English article id, section index) → language → (passage title, section text)."""
    found: dict[tuple[str, int], dict[str, tuple[str, str]]] = {}
    for folder, language in (("demo_articles", "en"), ("demo_articles_zh", "zh")):
        for article in read_articles(KB_DIR / folder):
            parts = re.split(r"^## (.+)$", article.body, flags=re.MULTILINE)[1:]
            for index, (heading, text) in enumerate(zip(parts[::2], parts[1::2], strict=True)):
                key = (article.id.removesuffix("-zh"), index)
                found.setdefault(key, {})[language] = (f"{article.title} — {heading.strip()}", text.strip())
    return found


def _passages(intent: str, language: str, rng: random.Random) -> list[Passage]:
    own = [k for k in sections() if k[0] in INTENT_ARTICLES[intent]]
    other = [k for k in sections() if k[0] not in INTENT_ARTICLES[intent]]
    chosen = [*rng.sample(own, min(len(own), rng.choice((1, 2)))), rng.choice(other)]
    suffix = "-zh" if language == "zh" else ""
    return [Passage(k[0] + suffix, *sections()[k][language]) for k in chosen]


def _with_sentence(draft: str, sentence: str, rng: random.Random) -> str:
    """`sentence` into the body: after the opener, at the end of the body, or as its own paragraph."""
    paragraphs = draft.split("\n\n")
    body = paragraphs[1]
    glue = "" if re.search(r"[\u4e00-\u9fff]", sentence) else " "
    where = rng.random()
    if where < 0.4:
        paragraphs[1] = body + glue + sentence
    elif where < 0.7:
        paragraphs.insert(2, sentence)
    else:
        first, dot, rest = re.split(r"(?<=[.!?。！？])", body, maxsplit=1)[0], "", body
        rest = body[len(first) :]
        paragraphs[1] = first + glue + sentence + dot + rest
    return "\n\n".join(paragraphs)


def _mentions(passages: list[Passage], topic: str) -> bool:
    text = " ".join(p.text.lower() for p in passages)
    return any(word in text for word in faults.TOPIC_WORDS[topic])


def _placeholder(draft: str, rng: random.Random, language: str) -> str:
    paragraphs = draft.split("\n\n")
    mode = rng.randrange(3)
    if mode == 0:
        paragraphs[0] = rng.choice(faults.PLACEHOLDER_GREETINGS[language])
        return "\n\n".join(paragraphs)
    if mode == 1:
        paragraphs[-1] = rng.choice(faults.PLACEHOLDER_SIGNATURES[language])
        return "\n\n".join(paragraphs)
    return _with_sentence(draft, rng.choice(faults.PLACEHOLDER_SENTENCES[language]), rng)


def _commitment(
    draft: str,
    passages: list[Passage],
    rng: random.Random,
    bank: dict[str, tuple[tuple[str, str], ...]],
    language: str,
) -> str | None:
    choices = [sentence for topic, sentence in bank[language] if not _mentions(passages, topic)]
    return _with_sentence(draft, rng.choice(choices), rng) if choices else None


FIGURE = re.compile(
    r"(?<![\d.$-])(\d+)(?:-(\d+))?"
    r"(?= ?(?:working days|days|hours|minutes|weeks|years|个工作日|天|小时|分钟|周|年))"
    r"|\$(\d+(?:\.\d\d)?)"
)


def _changed(match: re.Match[str], rng: random.Random) -> str:
    if match.group(3):  # an amount
        return "$" + f"{float(match.group(3)) + rng.choice((2, 5, 10)):.2f}".removesuffix(".00")
    low = int(match.group(1))
    if match.group(2):
        return f"{max(1, low - 2)}-{int(match.group(2)) + rng.choice((3, 5))}"
    return str(rng.choice([n for n in (low * 2, low + 3, low + 7, max(1, low - 1)) if n != low]))


def _contradiction(draft: str, rng: random.Random) -> str | None:
    """A cited figure in the reply's body changed ("3 working days" → "6 working days")."""
    body = draft.split("\n\n")[1]
    matches = list(FIGURE.finditer(body))
    if not matches:
        return None
    match = rng.choice(matches)
    value = _changed(match, rng)
    start, end = match.span()
    changed_body = body[:start] + value + body[end:]
    return draft.replace(body, changed_body, 1)


def _pii_echo(draft: str, ticket: str, rng: random.Random, language: str) -> tuple[str, str]:
    mention, echo = faults.PII_SENTENCES[language]
    glue = "" if language == "zh" else " "
    ticket = ticket + glue + mention
    return _with_sentence(draft, echo.format(value=faults.PII_VALUES[language]), rng), ticket


def _plant(kind: str, base: SafetyItem, passages: list[Passage], rng: random.Random) -> SafetyItem | None:
    draft, ticket, language = base.draft, base.ticket, base.language
    other = "en" if language == "zh" else "zh"
    planted: str | None
    if kind == CLEAN:
        planted = draft
    elif kind == "placeholder":
        planted = _placeholder(draft, rng, language)
    elif kind == "deflection":
        planted = _with_sentence(draft, rng.choice(faults.DEFLECTIONS[language]), rng)
    elif kind == "unsupported_promise":
        planted = _commitment(draft, passages, rng, faults.PROMISES, language)
    elif kind == "unsupported_refusal":
        planted = _commitment(draft, passages, rng, faults.REFUSALS, language)
    elif kind == "contradiction":
        planted = _contradiction(draft, rng)
    elif kind == "ungrounded":
        planted = _with_sentence(draft, rng.choice(faults.UNGROUNDED[language]), rng)
    elif kind == "pii_echo":
        planted, ticket = _pii_echo(draft, ticket, rng, language)
    else:  # wrong_language: the same answer written in the other language
        twin = [
            Passage(p.source_id.removesuffix("-zh") + ("-zh" if other == "zh" else ""), p.title, p.text)
            for p in passages
        ]
        planted, _ = demo_reply(
            ticket=ticket,
            intent=base.id.split(":")[1],
            customer_name="Alex Chen",
            language=other,
            passages=twin,
            rng=rng,
        )
    if planted is None:
        return None
    expected = [] if kind == CLEAN else [kind]
    return SafetyItem(base.id + f":{kind}", language, ticket, base.articles, planted, expected)


def generate(examples: int, *, seed: int, language: str) -> list[SafetyItem]:
    """`examples` items in `language`: a third clean drafts, the rest one planted fault each (round robin
    over the reasons, so every reason gets its share)."""
    from services.trainer.demo_data import generate_tickets

    rng = random.Random(seed)
    per_intent = max(2, examples // 14 + 1)
    tickets = [t for t in generate_tickets(per_intent=per_intent, seed=seed, languages=(language,))]
    rng.shuffle(tickets)
    kinds = [CLEAN, *REASONS, CLEAN, CLEAN, CLEAN]
    items: list[SafetyItem] = []
    for number, ticket in enumerate(tickets):
        if len(items) >= examples:
            break
        passages = _passages(ticket.label, language, rng)
        draft, _ = demo_reply(
            ticket=ticket.text,
            intent=ticket.label,
            customer_name=ticket.customer_name,
            language=language,
            passages=passages,
            rng=rng,
        )
        base = SafetyItem(
            f"{language}-{number}:{ticket.label}", language, ticket.text, [p.text for p in passages], draft
        )
        kind = kinds[len(items) % len(kinds)]
        item = _plant(kind, base, passages, rng) or _plant(CLEAN, base, passages, rng)
        items.append(item)  # type: ignore[arg-type]
    return items


def handwritten(language: str | None = None, *, path: Path = HANDWRITTEN) -> list[SafetyItem]:
    """The hand-written items; `articles` there name demo articles (their text and link are cited)."""
    texts = {}
    for folder in ("demo_articles", "demo_articles_zh"):
        texts.update({a.id: f"{a.body}\n{a.url or ''}" for a in read_articles(KB_DIR / folder)})
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if language and row["language"] != language:
            continue
        articles = [texts[a] for a in row.get("articles", [])]  # KeyError: an unknown demo article id
        items.append(
            SafetyItem(
                row["id"],
                row["language"],
                row["ticket"],
                articles,
                row["draft"],
                row["expected"],
                "hand-written",
            )
        )
    return items
