"""Serving-side sentence encoder: MiniLM mean-pooled embeddings through onnxruntime, L2-normalised (no torch).

A bundle (built by `helploop kb build-encoder`, cached by the weights' sha256) holds model.onnx with one
output `sentence_embedding`, tokenizer.json and config.json.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from shared.runtime.classifier import choose_providers

log = logging.getLogger(__name__)


class SentenceEncoder:
    def __init__(self, bundle_dir: Path, *, version: str, intra_op_threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.version = version
        self.bundle_dir = Path(bundle_dir)
        self.config: dict[str, Any] = json.loads((self.bundle_dir / "config.json").read_text())
        self.dimension = int(self.config["dimension"])
        self.input_names: list[str] = list(self.config["input_names"])
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(self.config["max_length"]))
        self.tokenizer.enable_padding(pad_id=int(self.config.get("pad_token_id", 0)))
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(
            str(self.bundle_dir / "model.onnx"),
            sess_options=options,
            providers=choose_providers(ort.get_available_providers()),
        )
        log.info("loaded sentence encoder %s", version)

    def _features(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(texts)
        features = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(features[name], dtype=np.int64) for name in self.input_names}

    def embed(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; similar texts have a high dot product."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            (pooled,) = self.session.run(None, self._features([texts[i] for i in rows]))
            out[rows] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)
