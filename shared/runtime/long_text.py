"""Tickets longer than the classifier's window: which tokens the model reads.

`truncate` keeps the first `max_length` tokens (what the encoder was trained on). `head_tail` keeps the
first `head` tokens and the last `max_length - head` (Sun et al. 2019, "How to Fine-Tune BERT for Text
Classification?": head+tail beat head-only and tail-only on long reviews): a customer who explains the
background first and asks at the end, or asks first and signs off with details, keeps both ends.
`chunks` reads every window of `max_length` tokens (stride `max_length // 2`, so a request of up to half a
window sits whole in one of them) and answers from the window whose primary-head prediction is the most
confident: background sentences leave the model unsure, the request does not. Measured against pooling
the windows (token-weighted mean of logits or probabilities: the background windows outvote the request)
in docs/models.md, "Long tickets". The policy is a bundle setting (`long_text` in config.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

POLICIES = ("truncate", "head_tail", "chunks")
DEFAULT_POLICY = "chunks"  # what new bundles record (measured: docs/models.md, "Long tickets")
LEGACY_POLICY = "truncate"  # bundles exported before the setting: read as they were validated
MAX_WINDOWS = 16  # chunks: at most this many windows per ticket (2,048 tokens at the default window)
HEAD_SHARE = 0.25  # head_tail: a quarter of the window from the start, the rest from the end


@dataclass(frozen=True)
class Window:
    """An encoding's fields for one window of a text (what `pad_encodings` reads)."""

    ids: list[int]
    attention_mask: list[int]
    type_ids: list[int]


def untruncated_tokenizer(tokenizer: Any) -> Any:
    """A copy of a `tokenizers` Tokenizer that neither truncates nor pads (the policies cut the encodings)."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_str(tokenizer.to_str())
    raw.no_truncation()
    raw.no_padding()
    return raw


def _cut(encoding: Any, keep: list[int]) -> Window:
    fields = (encoding.ids, encoding.attention_mask, encoding.type_ids)
    ids, mask, types = ([values[i] for i in keep] for values in fields)
    return Window(ids, mask, types)


def truncate(encoding: Any, max_length: int) -> Any:
    """The first `max_length - 1` tokens and the closing special token (what the tokenizer's own
    truncation gives)."""
    n = len(encoding.ids)
    return encoding if n <= max_length else _cut(encoding, [*range(max_length - 1), n - 1])


def head_tail(encoding: Any, max_length: int, head_share: float = HEAD_SHARE) -> Any:
    """The first `head` and the last `max_length - head` tokens of an untruncated encoding (its first and
    last tokens are the special tokens, so both stay); shorter encodings are returned as they are."""
    n = len(encoding.ids)
    if n <= max_length:
        return encoding
    head = max(1, int(max_length * head_share))
    return _cut(encoding, [*range(head), *range(n - (max_length - head), n)])


def windows(encoding: Any, max_length: int) -> list[Any]:
    """Overlapping windows of `max_length` tokens (stride half a window), each keeping the encoding's
    first and last (special) token; one window when the encoding fits; at most `MAX_WINDOWS`."""
    n = len(encoding.ids)
    if n <= max_length:
        return [encoding]
    body = max_length - 2
    stride = max(1, body // 2)
    starts = [*range(1, n - 1 - body, stride), n - 1 - body]
    if len(starts) > MAX_WINDOWS:  # a pasted log or a whole book: evenly spread windows, first and last kept
        starts = [starts[round(i * (len(starts) - 1) / (MAX_WINDOWS - 1))] for i in range(MAX_WINDOWS)]
    return [_cut(encoding, [0, *range(start, start + body), n - 1]) for start in starts]


def most_confident(logits: np.ndarray, owners: np.ndarray, count: int) -> np.ndarray:
    """Per text (`owners[i]` owns row i), the row whose softmax has the highest top probability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    confidence = 1.0 / np.exp(shifted).sum(axis=1)  # the top probability: exp(0) / sum
    order = np.lexsort((-confidence, owners))  # by text, most confident first
    first = np.ones(len(order), dtype=bool)
    first[1:] = owners[order][1:] != owners[order][:-1]
    picked = np.empty(count, dtype=np.int64)
    picked[owners[order][first]] = order[first]
    return picked


def read_windows(encodings: list[Any], max_length: int, policy: str) -> list[list[Any]]:
    """Per untruncated encoding, the windows the graph reads under `policy` (one, except for `chunks`)."""
    if policy not in POLICIES:
        raise ValueError(f"long_text must be one of {POLICIES}, not {policy!r}")
    if policy == "chunks":
        return [windows(encoding, max_length) for encoding in encodings]
    cut = head_tail if policy == "head_tail" else truncate
    return [[cut(encoding, max_length)] for encoding in encodings]
