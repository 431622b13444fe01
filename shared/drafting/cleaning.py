"""Agent replies made fit to learn from: the sentences the guardrails would stop are taken out.

A reply a team actually sent can still carry what no draft may: a template slot nobody filled
(`{{Customer Support Phone Number}}`, `[Website URL]` — the public Bitext set has one in two of three
replies) or "contact our customer support team" sent to a customer who is contacting it. A generator
fine-tuned on such replies learns to write them, and every such draft is then flagged. Training replies
(never the hold-out a generator is judged on) lose those sentences; what is left keeps its lines and list
layout, and a reply with too little left once cleaned is not learned from at all.
"""

from __future__ import annotations

import itertools
import re

from shared.drafting.guardrails import text_weight
from shared.drafting.policy_checks import deflection_reason, placeholder_reason

# a sentence ends at . ! ? (or their Chinese forms) followed by a space, or at a Chinese full stop
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？])")
_WORDS = re.compile(r"[^\W\d_]{2,}|[\u4e00-\u9fff]")  # a word or a Chinese character: more than a list number
_STEP = re.compile(r"(?P<indent>[ \t]*)(?P<n>\d{1,2})(?=[.)][ \t]|、)")
MIN_KEPT_CHARS = 40  # a reply shorter than this once cleaned teaches nothing but a greeting


def unsafe_sentence(sentence: str) -> bool:
    """Whether the guardrails would flag a draft for this sentence alone (placeholder or deflection)."""
    return placeholder_reason(sentence) is not None or deflection_reason(sentence) is not None


def _clean_line(line: str) -> str:
    """The line without its unsafe sentences (the rest untouched); "" when nothing but a list number or
    punctuation is left."""
    cuts = [0, *(m.end() for m in _SENTENCE_END.finditer(line)), len(line)]
    spans = [line[start:end] for start, end in itertools.pairwise(cuts) if line[start:end]]
    kept = [span for span in spans if not (span.strip() and unsafe_sentence(span))]
    if len(kept) == len(spans):
        return line
    text = "".join(kept).rstrip()
    return text if _WORDS.search(text) else ""


def _renumbered(lines: list[str]) -> list[str]:
    """Numbered steps counted again from 1 in each run (blank lines don't end one), so a removed step
    leaves no gap."""
    out: list[str] = []
    expected = 1
    for line in lines:
        match = _STEP.match(line)
        if match is None:
            expected = expected if not line.strip() else 1
            out.append(line)
            continue
        out.append(f"{match.group('indent')}{expected}{line[match.end('n') :]}")
        expected += 1
    return out


def clean_reply(reply: str) -> str:
    """`reply` without its unsafe sentences, line breaks kept (blank runs collapsed); may be empty."""
    lines: list[str] = []
    removed = False  # a whole line went: numbered steps after it are counted again
    for line in reply.splitlines():
        if not line.strip():
            if lines and lines[-1]:  # one blank line between paragraphs
                lines.append("")
            continue
        cleaned = _clean_line(line)
        removed = removed or not cleaned
        if cleaned:
            lines.append(cleaned)
    return "\n".join(_renumbered(lines) if removed else lines).strip()


def learnable_reply(reply: str) -> str | None:
    """The reply with its unsafe sentences taken out; None when that leaves too little to learn from (a
    reply with nothing to take out is kept whatever its length)."""
    cleaned = clean_reply(reply)
    if cleaned == reply.strip():
        return reply
    return cleaned if text_weight(cleaned) >= MIN_KEPT_CHARS else None
