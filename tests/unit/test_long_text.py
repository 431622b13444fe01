"""Reading tickets longer than the window: truncation as the tokenizer does it, head+tail, pooled windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from services.trainer.base_model import MINILM_ENCODER, locate
from shared.runtime.long_text import (
    MAX_WINDOWS,
    Window,
    head_tail,
    most_confident,
    read_windows,
    truncate,
    untruncated_tokenizer,
    windows,
)


def _encoding(n: int) -> Window:
    """[CLS]=101, tokens 1000.., [SEP]=102."""
    return Window([101, *range(1000, 1000 + n - 2), 102], [1] * n, [0] * n)


def test_head_tail_keeps_both_ends_and_the_special_tokens() -> None:
    cut = head_tail(_encoding(100), 16)
    assert len(cut.ids) == 16 and cut.ids[:4] == [101, 1000, 1001, 1002] and cut.ids[-1] == 102
    assert cut.ids[4:] == [*range(1000 + 100 - 2 - 11, 1000 + 100 - 2), 102]
    short = _encoding(10)
    assert head_tail(short, 16) is short and truncate(short, 16) is short


def test_windows_cover_every_token_once_at_least_each_within_the_limit() -> None:
    encoding = _encoding(103)
    parts = windows(encoding, 16)
    assert all(len(p.ids) == 16 and p.ids[0] == 101 and p.ids[-1] == 102 for p in parts)
    seen = {token for p in parts for token in p.ids[1:-1]}
    assert seen == set(encoding.ids[1:-1])
    assert windows(_encoding(16), 16) == [_encoding(16)]
    huge = windows(_encoding(5000), 16)
    assert len(huge) == MAX_WINDOWS and huge[0].ids[1] == 1000 and huge[-1].ids[-2] == 1000 + 5000 - 3


def test_each_text_answers_from_its_most_confident_window() -> None:
    logits = np.array([[1.0, 0.9], [5.0, 0.0], [0.0, 0.1], [0.0, 3.0], [2.0, 2.0]], dtype=np.float32)
    owners = np.array([0, 0, 0, 1, 2])
    assert most_confident(logits, owners, 3).tolist() == [1, 3, 4]
    per_text = read_windows([_encoding(40), _encoding(8)], 16, "chunks")
    assert len(per_text[0]) > 2 and per_text[1] == [_encoding(8)]
    with pytest.raises(ValueError, match="long_text must be one of"):
        read_windows([_encoding(8)], 16, "middle")


def test_truncate_is_what_the_tokenizer_itself_does() -> None:
    path = Path(locate(MINILM_ENCODER)) / "tokenizer.json"
    text = "My card payment was declined twice at the supermarket today. " * 12
    cut = Tokenizer.from_file(str(path))
    cut.enable_truncation(max_length=32)
    cut.enable_padding(pad_id=0)
    full = untruncated_tokenizer(cut)
    assert len(full.encode(text).ids) > 100
    assert truncate(full.encode(text), 32).ids == cut.encode(text).ids
    [[row]] = read_windows([full.encode(text)], 32, "head_tail")
    assert len(row.ids) == 32 and row.ids[-1] == cut.encode(text).ids[-1]
