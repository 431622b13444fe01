"""Serving-side multi-head text classifier: an onnxruntime session plus a `tokenizers` tokenizer (no torch).

A bundle (written by the trainer) holds model.onnx with one logits output per head (and the pooled
sentence embedding), tokenizer.json, labels.json and config.json; config.json describes each head: labels,
temperature, out-of-scope rule (and, for the embedding-space rule, the class-statistics file it needs).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.metrics import INFERENCE_DURATION
from shared.runtime.lexical import LexicalFeatures, LexicalHead
from shared.runtime.long_text import LEGACY_POLICY, most_confident, read_windows, untruncated_tokenizer
from shared.runtime.onnx_session import (
    create_session,
    encoder_features,
    int8_on_cuda,
    pad_encodings,
    session_device,
)
from shared.runtime.ood import MAHALANOBIS, ClassGaussians
from shared.runtime.scoring import in_scope_score, softmax

log = logging.getLogger(__name__)
OUT_OF_SCOPE = "out_of_scope"
# texts per graph run at most: a call is split into length-sorted groups (`length_groups`), each padded
# only to its own longest text (on 2 cores, 256 Banking77 tickets a call: 593-602 tickets/s with groups of
# at most 8, 691 with 32; docs/benchmarks.md, "runs cut by length"), and at most this many padded tokens
# (what 8 texts at a 128-token window came to: the activations, and so the process's memory, stay bounded)
MAX_BATCH = 32
MAX_RUN_TOKENS = 1024
# what one graph run costs beyond its tokens, in padded tokens: a run reads every weight once whatever its
# size (MiniLM-L6 in float32 on 2 cores: 1.2 ms for one 2-token text, then about 0.1 ms a token), so a
# batch is cut into runs where the padding a cut saves is worth more than the run it adds
RUN_COST_TOKENS = 12
PRIMARY_HEAD = "intent"


@dataclass(frozen=True)
class HeadSpec:
    name: str
    output: str
    labels: list[str]
    temperature: float = 1.0
    oos_label: str | None = None  # a trained out-of-scope class (e.g. CLINC150's "oos")
    reject_method: str | None = None  # "max_prob", "energy" or "mahalanobis"
    reject_threshold: float | None = None
    ood_stats: str | None = None  # bundle file with class means/precision, for "mahalanobis"
    lexical: str | None = None  # stem of the head's TF-IDF companion files (shared/runtime/lexical.py)
    lexical_weight: float = 0.0  # what its decision values are multiplied by before joining the logits

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeadSpec:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class HeadPrediction:
    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    out_of_scope: bool = False


@dataclass(frozen=True)
class Prediction:
    heads: dict[str, HeadPrediction]
    inference_ms: float
    primary_head: str = PRIMARY_HEAD

    @property
    def primary(self) -> HeadPrediction:
        return self.heads[self.primary_head]


def read_heads(bundle_dir: Path, config: dict[str, Any]) -> list[HeadSpec]:
    if "heads" in config:
        return [HeadSpec.from_json(head) for head in config["heads"]]
    # format 1: a single head with output "logits" and labels.json {"labels": [...]}
    labels = json.loads((bundle_dir / "labels.json").read_text())["labels"]
    return [HeadSpec(name=PRIMARY_HEAD, output="logits", labels=labels)]


@dataclass(frozen=True)
class Forward:
    """One graph run over a batch: logits per head and, when the graph has it, the pooled embedding."""

    logits: dict[str, np.ndarray]
    embedding: np.ndarray | None = None


def predict_head(
    spec: HeadSpec, logits: np.ndarray, top_k: int, *, scores: np.ndarray | None = None
) -> list[HeadPrediction]:
    """Calibrated probabilities, top-k, and the out-of-scope decision for one head over a batch.

    `scores` are precomputed in-scope scores, required by rules that do not work on logits alone."""
    probabilities = softmax(logits, spec.temperature)
    rejected = np.zeros(len(logits), dtype=bool)
    if spec.reject_method and spec.reject_threshold is not None:
        if scores is None:
            if spec.reject_method == MAHALANOBIS:
                raise ValueError(f"head {spec.name!r}: the {MAHALANOBIS} rule needs embedding scores")
            scores = in_scope_score(logits, method=spec.reject_method, temperature=spec.temperature)
        rejected = scores < spec.reject_threshold
    k = min(top_k, len(spec.labels))
    results = []
    for row, reject in zip(probabilities, rejected, strict=True):
        order = np.argsort(-row)[:k]
        ranked = [(spec.labels[i], float(row[i])) for i in order]
        label, confidence = ranked[0]
        out_of_scope = bool(reject) or (spec.oos_label is not None and label == spec.oos_label)
        results.append(
            HeadPrediction(OUT_OF_SCOPE if out_of_scope else label, confidence, ranked, out_of_scope)
        )
    return results


def length_groups(
    lengths: np.ndarray,
    *,
    max_rows: int = MAX_BATCH,
    max_tokens: int = MAX_RUN_TOKENS,
    run_cost: int = RUN_COST_TOKENS,
) -> list[np.ndarray]:
    """Row indices in runs of similar length, the cheapest way to pad them: sorted by length and cut where
    the padded tokens plus `run_cost` per run add up least (exact, by dynamic programming over the sorted
    order; at most `max_rows` rows and `max_tokens` padded tokens a run, one row whatever its length).
    Eight short tickets where one is long run as two groups, not as eight rows padded to the long one."""
    order = np.argsort(lengths, kind="stable")
    ordered = lengths[order].astype(np.int64)
    count = len(order)
    best = np.zeros(count + 1)
    cut = np.zeros(count + 1, dtype=np.int64)
    for end in range(1, count + 1):
        rows = min(max_rows, max(1, max_tokens // max(1, int(ordered[end - 1]))))
        starts = np.arange(max(0, end - rows), end)
        costs = best[starts] + run_cost + (end - starts) * ordered[end - 1]
        pick = int(np.argmin(costs))
        best[end], cut[end] = costs[pick], starts[pick]
    groups, end = [], count
    while end > 0:
        groups.append(order[cut[end] : end])
        end = int(cut[end])
    return groups[::-1]


class OnnxClassifier:
    """Loads one bundle; `predict` is safe to call repeatedly from one process."""

    def __init__(
        self, bundle_dir: Path, *, version: str, intra_op_threads: int = 0, max_batch: int = MAX_BATCH
    ) -> None:
        from tokenizers import Tokenizer

        started = time.perf_counter()
        self.version = version
        self.max_batch = max_batch
        self.bundle_dir = Path(bundle_dir)
        self.config: dict[str, Any] = json.loads((self.bundle_dir / "config.json").read_text())
        self.heads = read_heads(self.bundle_dir, self.config)
        self.languages: list[str] = list(self.config.get("languages", []))
        self.max_length = int(self.config["max_length"])
        self.input_names: list[str] = list(self.config["input_names"])
        self.embedding_output: str | None = self.config.get("embedding_output")
        self.gaussians = {
            h.name: ClassGaussians.load(self.bundle_dir / h.ood_stats)
            for h in self.heads
            if h.reject_method == MAHALANOBIS and h.ood_stats
        }
        self.lexical = {
            h.name: LexicalHead.load(self.bundle_dir, h.lexical, h.lexical_weight)
            for h in self.heads
            if h.lexical
        }
        self.lexical_features = LexicalFeatures.load(self.bundle_dir) if self.lexical else None
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.pad_id = int(self.config.get("pad_token_id", 0))
        self.tokenizer.enable_padding(pad_id=self.pad_id)
        self.long_text: str = self.config.get("long_text", LEGACY_POLICY)  # past the window (long_text.py)
        self.raw_tokenizer = untruncated_tokenizer(self.tokenizer)
        self.session = create_session(self.bundle_dir / "model.onnx", intra_op_threads=intra_op_threads)
        self.load_seconds = time.perf_counter() - started
        log.info(
            "loaded classifier %s in %.2fs (%s)", version, self.load_seconds, self.session.get_providers()
        )
        if (parent := int8_on_cuda(self.bundle_dir, session_device(self.session))) is not None:
            log.warning(
                "classifier %s is dynamic int8 on CUDA, whose integer operators run on the CPU: activate %s "
                "(float32), or train with `helploop train --serve fp32`",
                version,
                parent,
            )

    @property
    def labels(self) -> list[str]:
        """Labels of the primary (first) head."""
        return self.heads[0].labels

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Graph inputs, one row per text, truncated at the window (what training saw)."""
        return encoder_features(self.tokenizer, texts, self.input_names)

    def tokenize(self, texts: list[str]) -> list[list[Any]]:
        """Per text, the unpadded windows the graph reads under the bundle's `long_text` policy (a
        micro-batcher pads them together with other tickets')."""
        started = time.perf_counter()
        per_text = read_windows(self.raw_tokenizer.encode_batch(texts), self.max_length, self.long_text)
        INFERENCE_DURATION.labels("tokenize").observe(time.perf_counter() - started)
        return per_text

    def forward(self, texts: list[str], *, with_embedding: bool | None = None) -> Forward:
        """Run the graph, and add the heads' lexical scores; the embedding is fetched when asked for, or by
        default when a rule needs it."""
        return self.with_lexical(
            self.forward_windows(self.tokenize(texts), with_embedding=with_embedding), texts
        )

    def with_lexical(self, forward: Forward, texts: list[str] | None) -> Forward:
        """The graph's logits plus, for a head with a lexical companion, its weighted decision values."""
        if not self.lexical:
            return forward
        if texts is None or len(texts) != len(next(iter(forward.logits.values()))):
            raise ValueError(f"bundle {self.version} scores the texts' n-grams too: pass the texts")
        started = time.perf_counter()
        rows = self.lexical_features.rows(texts)  # type: ignore[union-attr]
        logits = dict(forward.logits)
        for name, head in self.lexical.items():
            logits[name] = logits[name] + head.weight * head.scores(rows)
        INFERENCE_DURATION.labels("lexical").observe(time.perf_counter() - started)
        return Forward(logits, forward.embedding)

    def forward_windows(self, per_text: list[list[Any]], *, with_embedding: bool | None = None) -> Forward:
        """Every text's windows in one run; a text with several keeps its most confident window's outputs
        (`long_text.most_confident`, on the primary head)."""
        rows = [row for windows in per_text for row in windows]
        forward = self.forward_features(
            pad_encodings(rows, self.input_names, pad_id=self.pad_id), with_embedding=with_embedding
        )
        if len(rows) == len(per_text):
            return forward
        owners = np.repeat(np.arange(len(per_text)), [len(windows) for windows in per_text])
        picked = most_confident(forward.logits[self.heads[0].name], owners, len(per_text))
        logits = {name: values[picked] for name, values in forward.logits.items()}
        return Forward(logits, None if forward.embedding is None else forward.embedding[picked])

    def forward_features(
        self, features: dict[str, np.ndarray], *, with_embedding: bool | None = None
    ) -> Forward:
        if with_embedding is None:
            with_embedding = bool(self.gaussians)
        names = [h.output for h in self.heads]
        if with_embedding and self.embedding_output:
            names.append(self.embedding_output)
        started = time.perf_counter()
        outputs = self._run_sorted(names, features)
        INFERENCE_DURATION.labels("classify").observe(time.perf_counter() - started)
        logits = {head.name: out for head, out in zip(self.heads, outputs, strict=False)}
        embedding = outputs[len(self.heads)] if len(outputs) > len(self.heads) else None
        return Forward(logits, embedding)

    def _run_sorted(self, names: list[str], features: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run in length-sorted groups (`length_groups`), each trimmed to its longest text (tokenizers pad on
        the right), and put the rows back in the caller's order."""
        lengths = features["attention_mask"].sum(axis=1)
        if len(lengths) <= 1:
            return self.session.run(names, features)
        groups = length_groups(lengths, max_rows=self.max_batch)
        parts: list[list[np.ndarray]] = []
        for rows in groups:
            width = int(lengths[rows].max())
            parts.append(self.session.run(names, {k: v[rows, :width] for k, v in features.items()}))
        order = np.concatenate(groups)
        outputs = []
        for i in range(len(names)):
            merged = np.concatenate([part[i] for part in parts])
            restored = np.empty_like(merged)
            restored[order] = merged
            outputs.append(restored)
        return outputs

    def reject_scores(self, forward: Forward) -> dict[str, np.ndarray]:
        """In-scope scores for heads whose rule works in embedding space."""
        if forward.embedding is None:
            return {}
        return {name: gaussians.score(forward.embedding) for name, gaussians in self.gaussians.items()}

    def head_logits(self, texts: list[str]) -> dict[str, np.ndarray]:
        return self.forward(texts, with_embedding=False).logits

    def logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits of the primary head."""
        return self.head_logits(texts)[self.heads[0].name]

    def predict(self, texts: list[str], *, top_k: int = 3) -> list[Prediction]:
        started = time.perf_counter()
        return self._predictions(self.forward(texts), top_k, started=started, count=len(texts))

    def predict_encoded(
        self, encodings: list[list[Any]], *, top_k: int = 3, texts: list[str] | None = None
    ) -> list[Prediction]:
        """`predict` for `texts` tokenized by `tokenize` (possibly in other threads); the texts are needed
        where a head has a lexical companion."""
        started = time.perf_counter()
        forward = self.with_lexical(self.forward_windows(encodings), texts)
        return self._predictions(forward, top_k, started=started, count=len(encodings))

    def _predictions(self, forward: Forward, top_k: int, *, started: float, count: int) -> list[Prediction]:
        scores = self.reject_scores(forward)
        per_head = {
            head.name: predict_head(head, forward.logits[head.name], top_k, scores=scores.get(head.name))
            for head in self.heads
        }
        elapsed_ms = (time.perf_counter() - started) * 1000.0 / max(count, 1)
        primary = self.heads[0].name
        return [
            Prediction({name: rows[i] for name, rows in per_head.items()}, elapsed_ms, primary)
            for i in range(count)
        ]
