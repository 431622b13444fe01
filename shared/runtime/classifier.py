"""Serving-side text classifier: an onnxruntime session plus a `tokenizers` tokenizer (no torch).

The bundle format is written by the trainer: model.onnx, tokenizer.json, labels.json, config.json.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    inference_ms: float


def choose_providers(available: list[str]) -> list[str]:
    """CUDA first when onnxruntime offers it, CPU always as the fallback."""
    preferred = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*preferred, "CPUExecutionProvider"]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class OnnxClassifier:
    """Loads one bundle; `predict` is safe to call repeatedly from one process."""

    def __init__(self, bundle_dir: Path, *, version: str, intra_op_threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        started = time.perf_counter()
        self.version = version
        self.bundle_dir = Path(bundle_dir)
        config = json.loads((self.bundle_dir / "config.json").read_text())
        self.labels: list[str] = json.loads((self.bundle_dir / "labels.json").read_text())["labels"]
        self.max_length: int = int(config["max_length"])
        self.input_names: list[str] = list(config["input_names"])
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(self.bundle_dir / "model.onnx"),
            sess_options=options,
            providers=choose_providers(ort.get_available_providers()),
        )
        self.load_seconds = time.perf_counter() - started
        log.info(
            "loaded classifier %s in %.2fs (%s)", version, self.load_seconds, self.session.get_providers()
        )

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(texts)
        features: dict[str, Any] = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(features[name], dtype=np.int64) for name in self.input_names}

    def logits(self, texts: list[str]) -> np.ndarray:
        return self.session.run(["logits"], self.encode(texts))[0]

    def predict(self, texts: list[str], *, top_k: int = 3) -> list[Prediction]:
        started = time.perf_counter()
        probabilities = softmax(self.logits(texts).astype(np.float64))
        elapsed_ms = (time.perf_counter() - started) * 1000.0 / max(len(texts), 1)
        k = min(top_k, len(self.labels))
        predictions = []
        for row in probabilities:
            order = np.argsort(-row)[:k]
            ranked = [(self.labels[i], float(row[i])) for i in order]
            predictions.append(Prediction(ranked[0][0], ranked[0][1], ranked, elapsed_ms))
        return predictions
