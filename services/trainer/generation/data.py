"""Reply-drafting examples: (ticket, intent, context passages → agent reply).

Sources: a JSONL/CSV file with `ticket`, `reply` and optionally `intent` columns (resolved tickets and
the agents' final answers); read in place from the datasets dir: the Bitext customer-support set (English,
split by seed into train and a hold-out that training never sees) and the STC-3 Weibo helpdesk dialogues
(Chinese: the customer's opening turns → the helpdesk's first reply; its own train and test files).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.drafting.cleaning import learnable_reply
from shared.drafting.prompt import EarlierTicket, Passage, build_prompt
from shared.runtime.language import detect_language

BITEXT_FILE = "bitext_customer_support/Bitext_Sample_Customer_Support_Training_Dataset.csv"
STC3_DIR = "stc3_customer_helpdesk_zh"
WEIBO_EMOTICON = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")  # "[呵呵]": Weibo's picture emoticons, as text


@dataclass(frozen=True)
class ReplyExample:
    ticket: str
    reply: str
    intent: str | None = None
    passages: list[Passage] = field(default_factory=list)
    customer_name: str | None = None  # in the prompt as at serving time, so the reply greets them
    history: list[EarlierTicket] = field(default_factory=list)  # the customer's earlier tickets, newest first

    def prompt(self, *, training: bool = False, name_language: bool = True) -> str:
        """The drafting prompt for this example, exactly as the drafting workers build it: the reply's
        language named as the ticket's (detected, as the worker does), or in `training` as the language
        the reply is really written in (the model learns to follow the line, not to guess);
        `name_language=False` for a bundle trained before that line (its config lacks `prompt_language`)."""
        return build_prompt(
            ticket=self.ticket,
            intent=self.intent,
            passages=self.passages,
            customer_name=self.customer_name,
            history=self.history,
            language=text_language(self.reply if training else self.ticket) if name_language else None,
        )


def text_language(text: str) -> str | None:
    """The language a text is written in (ISO 639-1), or None when too short or uncertain to tell."""
    return detect_language(text).language


def load_reply_file(path: Path) -> list[ReplyExample]:
    rows: list[dict[str, str]]
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    missing = {"ticket", "reply"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)} (need ticket, reply[, intent])")
    return [
        ReplyExample(r["ticket"], r["reply"], r.get("intent") or None) for r in rows if r["reply"].strip()
    ]


def learnable(examples: list[ReplyExample]) -> list[ReplyExample]:
    """Training examples with their replies cleaned (`shared.drafting.cleaning`): the sentences the
    guardrails would stop taken out, the examples with too little left dropped."""
    cleaned = [(e, learnable_reply(e.reply)) for e in examples]
    return [replace(e, reply=reply) for e, reply in cleaned if reply is not None]


def bitext_splits(
    datasets_dir: Path, *, seed: int, test_size: int
) -> tuple[list[ReplyExample], list[ReplyExample]]:
    """(train, hold-out): a seeded shuffle; the first `test_size` rows are held out."""
    with (Path(datasets_dir) / BITEXT_FILE).open(newline="", encoding="utf-8") as handle:
        rows = [ReplyExample(r["instruction"], r["response"], r["intent"]) for r in csv.DictReader(handle)]
    random.Random(seed).shuffle(rows)
    return rows[test_size:], rows[:test_size]


def stc3_examples(path: Path) -> list[ReplyExample]:
    """One example per dialogue: everything the customer wrote before the helpdesk's first non-empty turn
    (emoji and images were dropped upstream as empty strings; Weibo's "[呵呵]" emoticons are dropped
    here) → that turn."""
    dialogues = json.loads(Path(path).read_text(encoding="utf-8"))
    examples = []
    for dialogue in dialogues:
        opening: list[str] = []
        for turn in dialogue["turns"]:
            text = " ".join(u.strip() for u in turn["utterances"] if u.strip())
            text = WEIBO_EMOTICON.sub("", text).strip()
            if turn["sender"] == "customer":
                opening.append(text)
            elif text and any(opening):
                examples.append(ReplyExample(" ".join(t for t in opening if t), text))
                break
    return examples


def stc3_splits(datasets_dir: Path) -> tuple[list[ReplyExample], list[ReplyExample]]:
    """(train, hold-out): STC-3's own train (3,700 dialogues) and test (390) files."""
    directory = Path(datasets_dir) / STC3_DIR
    return stc3_examples(directory / "train_data_cn.json"), stc3_examples(directory / "test_data_cn.json")


def with_neighbour_replies(
    examples: list[ReplyExample],
    pool: list[ReplyExample],
    neighbours: list[list[int]],
    *,
    skip_self: bool,
    count: int = 1,
) -> list[ReplyExample]:
    """Attach the replies to the `count` most similar resolved tickets as context passages (one keeps
    prompts near 400 tokens, which is what makes CPU fine-tuning affordable)."""
    out = []
    for i, (example, ranked) in enumerate(zip(examples, neighbours, strict=True)):
        chosen = [j for j in ranked if not (skip_self and j == i)][:count]
        passages = [Passage(f"reply-{j}", "Reply to a similar ticket", pool[j].reply) for j in chosen]
        out.append(replace(example, passages=passages))
    return out


def demo_reply_examples(
    *,
    retrieve: Callable[[str], list[Passage]],
    per_intent: int,
    seed: int,
    languages: tuple[str, ...] = ("en",),
    followups: int = 0,
) -> list[ReplyExample]:
    """The demo shop's resolved tickets (per intent and language) with the passages `retrieve` gives
    them, then `followups` follow-ups per situation and language with the customer's history."""
    from services.trainer.demo_followups import demo_followups, followup_examples
    from services.trainer.demo_replies import demo_resolutions

    resolutions = demo_resolutions(retrieve=retrieve, per_intent=per_intent, seed=seed, languages=languages)
    later = demo_followups(retrieve=retrieve, per_situation=followups, seed=seed, languages=languages)
    examples = [ReplyExample(r.ticket, r.reply, r.intent, r.passages, r.customer_name) for r in resolutions]
    return examples + followup_examples(later)
