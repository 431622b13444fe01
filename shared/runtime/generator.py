"""Serving-side text generation: onnxruntime + `tokenizers` (no torch), with a KV cache.

The bundle (made by `helploop train-generator`) holds decoder.onnx, tokenizer.json and config.json. The
decoding loop supports greedy and nucleus sampling, a repetition penalty, a ban on repeating the draft's
own n-grams, EOS and stop strings, `max_new_tokens`, and batches of prompts with left padding.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.runtime.onnx_session import create_session, run_bound, session_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 160
    min_new_tokens: int = 0  # EOS is masked until this many tokens exist (benchmarks, like transformers)
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.1
    no_repeat_ngram: int = 0  # n > 0: never repeat an n-token sequence of the draft itself (loops)
    stop_strings: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: list[int]
    prompt_tokens: int
    finish_reason: str  # "eos", "stop" or "length"
    seconds: float
    first_token_seconds: float

    @property
    def tokens(self) -> int:
        return len(self.token_ids)


@dataclass
class _Row:
    prompt: list[int]
    generated: list[int] = field(default_factory=list)
    finish_reason: str | None = None


def apply_repetition_penalty(logits: np.ndarray, seen: list[list[int]], penalty: float) -> np.ndarray:
    """CTRL-style (as transformers does): divide positive, multiply negative logits of seen tokens."""
    if penalty == 1.0:
        return logits
    out = logits.copy()
    for row, tokens in enumerate(seen):
        ids = np.unique(np.asarray(tokens, dtype=np.int64))
        values = out[row, ids]
        out[row, ids] = np.where(values > 0, values / penalty, values * penalty)
    return out


def repeating_tokens(generated: list[int], n: int) -> list[int]:
    """The tokens that would complete an `n`-gram the draft already holds (transformers'
    `no_repeat_ngram_size`, but over the generated tokens only: copying the context stays allowed)."""
    if n <= 0 or len(generated) < n:
        return []
    prefix = generated[len(generated) - n + 1 :]
    return [generated[i + n - 1] for i in range(len(generated) - n + 1) if generated[i : i + n - 1] == prefix]


def choose_tokens(logits: np.ndarray, config: GenerationConfig, rng: np.random.Generator) -> np.ndarray:
    if config.temperature <= 0:
        return logits.argmax(axis=-1)
    scaled = logits / config.temperature
    probabilities = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    choices = []
    for row in probabilities:
        order = np.argsort(-row)
        cumulative = np.cumsum(row[order])
        keep = order[: int(np.searchsorted(cumulative, config.top_p) + 1)]
        choices.append(rng.choice(keep, p=row[keep] / row[keep].sum()))
    return np.asarray(choices)


class OnnxGenerator:
    """On a GPU the KV cache stays on the device between steps (IO binding): only the next token's ids go
    in and its logits come out. `bind_io` forces that path on or off (default: on with CUDA)."""

    def __init__(
        self, bundle_dir: Path, *, version: str, intra_op_threads: int = 0, bind_io: bool | None = None
    ) -> None:
        from tokenizers import Tokenizer

        started = time.perf_counter()
        self.version = version
        self.bundle_dir = Path(bundle_dir)
        self.config: dict[str, Any] = json.loads((self.bundle_dir / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.eos_ids = set(self.config["eos_token_ids"])
        self.pad_id = int(self.config["pad_token_id"])
        self.cache_dims = tuple(self.config["cache_dims"])  # (2·layers, kv_heads, head_dim)
        # "per_layer": past.{i}.key/.value in, present.{i}.key/.value out, each (batch, kv_heads, past,
        # head_dim); bundles before it stack the whole cache into one (2·layers, batch, …) tensor. Either
        # way the cache is a list of the graph's cache tensors, fed back step to step as they come out.
        self.per_layer = self.config.get("cache_layout") == "per_layer"
        self.max_context = int(self.config["max_context"])
        # the languages its drafts are written in (None: not recorded, bundles before this key)
        self.languages: list[str] | None = self.config.get("languages")
        # trained with the reply's language named in the prompt (shared/drafting/prompt.py); bundles before
        # this key never saw that line, so they are not shown it
        self.prompt_language = bool(self.config.get("prompt_language", False))
        # fine-tuned on replies (bundles before this key: treated as untuned, see services/inference/drafting)
        self.fine_tuned = bool(self.config.get("fine_tuned", False))
        self.session = create_session(
            self.bundle_dir / "decoder.onnx", intra_op_threads=intra_op_threads, spin_us=None
        )
        self.device = session_device(self.session)
        self.bind_io = self.device == "cuda" if bind_io is None else bind_io
        self.past_names = [i.name for i in self.session.get_inputs() if i.name.startswith("past")]
        self.present_names = [o.name for o in self.session.get_outputs() if o.name.startswith("present")]
        past_type = next(i.type for i in self.session.get_inputs() if i.name == self.past_names[0])
        self.cache_dtype = np.float16 if past_type == "tensor(float16)" else np.float32  # fp16 bundles
        self.load_seconds = time.perf_counter() - started
        log.info("loaded generator %s in %.2fs", version, self.load_seconds)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def _step(
        self, ids: np.ndarray, mask: np.ndarray, positions: np.ndarray, past: list[Any]
    ) -> tuple[np.ndarray, list[Any]]:
        feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
        feeds.update(zip(self.past_names, past, strict=True))
        if self.bind_io:
            outputs = {"logits": "cpu", **dict.fromkeys(self.present_names, self.device)}
            logits, *present = run_bound(self.session, feeds, outputs)
            return logits.numpy()[:, -1, :], present
        logits, *present = self.session.run(["logits", *self.present_names], feeds)
        return logits[:, -1, :], present

    def _empty_cache(self, batch: int) -> list[Any]:
        """The KV cache before the first step (length 0), where the steps will keep it."""
        layers2, kv_heads, head_dim = self.cache_dims
        shape = (batch, kv_heads, 0, head_dim) if self.per_layer else (layers2, batch, kv_heads, 0, head_dim)
        empty = np.zeros(shape, dtype=self.cache_dtype)
        if not self.bind_io:
            return [empty] * len(self.past_names)
        import onnxruntime as ort

        return [ort.OrtValue.ortvalue_from_numpy(empty, self.device, 0) for _ in self.past_names]

    def _prefill_inputs(self, rows: list[_Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Left-padded ids and mask, and positions counted over real tokens only."""
        width = max(len(r.prompt) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, width - len(row.prompt) :] = row.prompt
            mask[i, width - len(row.prompt) :] = 1
        positions = np.clip(mask.cumsum(axis=1) - 1, 0, None)
        return ids, mask, positions

    def _finish(self, row: _Row, token: int, config: GenerationConfig) -> None:
        if token in self.eos_ids:
            row.finish_reason = "eos"
            return
        row.generated.append(token)
        if config.stop_strings:
            text = self.tokenizer.decode(row.generated[-16:])
            if any(stop in text for stop in config.stop_strings):
                row.finish_reason = "stop"
                return
        if len(row.generated) >= config.max_new_tokens:
            row.finish_reason = "length"

    def generate(
        self, prompts: list[str], config: GenerationConfig | None = None, *, use_cache: bool = True
    ) -> list[Generation]:
        """Generate for a batch of prompts. `use_cache=False` re-reads the whole sequence every step
        (slow; the reference the KV-cache path is tested against)."""
        config = config or GenerationConfig()
        rng = np.random.default_rng(config.seed)
        started = time.perf_counter()
        rows = [_Row(self.encode(p)[-(self.max_context - config.max_new_tokens) :]) for p in prompts]
        ids, mask, positions = self._prefill_inputs(rows)
        past = self._empty_cache(len(rows))
        first_token_at = None
        while True:
            if use_cache:
                logits, past = self._step(ids, mask, positions, past)
            else:
                full_ids, full_mask, full_positions = self._full_sequence(rows, mask)
                logits, _ = self._step(full_ids, full_mask, full_positions, past)
            tokens = self._next_tokens(logits, rows, config, rng)
            first_token_at = first_token_at or time.perf_counter()
            for row, token in zip(rows, tokens, strict=True):
                if row.finish_reason is None:
                    self._finish(row, int(token), config)
            if all(r.finish_reason for r in rows):
                break
            ids = np.asarray(
                [[r.generated[-1] if r.generated else self.pad_id] for r in rows], dtype=np.int64
            )
            positions = positions[:, -1:] + 1
            mask = np.concatenate([mask, np.ones((len(rows), 1), dtype=np.int64)], axis=1)
        elapsed = time.perf_counter() - started
        return [self._result(r, config, elapsed, (first_token_at or started) - started) for r in rows]

    def _next_tokens(
        self, logits: np.ndarray, rows: list[_Row], config: GenerationConfig, rng: np.random.Generator
    ) -> np.ndarray:
        logits = apply_repetition_penalty(
            logits, [r.prompt + r.generated for r in rows], config.repetition_penalty
        )
        if len(rows[0].generated) < config.min_new_tokens:
            logits[:, sorted(self.eos_ids)] = -np.inf
        for i, row in enumerate(rows):
            banned = repeating_tokens(row.generated, config.no_repeat_ngram)
            if banned:
                logits[i, banned] = -np.inf
        return choose_tokens(logits, config, rng)

    def _full_sequence(self, rows: list[_Row], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        width = mask.shape[1]
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        for i, row in enumerate(rows):
            sequence = (row.prompt + row.generated)[-int(mask[i].sum()) :]
            ids[i, width - len(sequence) :] = sequence
        positions = np.clip(mask.cumsum(axis=1) - 1, 0, None)
        return ids, mask, positions

    def _result(self, row: _Row, config: GenerationConfig, seconds: float, first: float) -> Generation:
        text = self.tokenizer.decode(row.generated, skip_special_tokens=True)
        for stop in config.stop_strings:
            text = text.split(stop, 1)[0]
        return Generation(
            text.strip(), row.generated, len(row.prompt), row.finish_reason or "length", seconds, first
        )
