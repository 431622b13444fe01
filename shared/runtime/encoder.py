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

from shared.runtime.onnx_session import create_session, encoder_features

log = logging.getLogger(__name__)


class SentenceEncoder:
    def __init__(self, bundle_dir: Path, *, version: str, intra_op_threads: int = 0) -> None:
        from tokenizers import Tokenizer

        self.version = version
        self.bundle_dir = Path(bundle_dir)
        self.config: dict[str, Any] = json.loads((self.bundle_dir / "config.json").read_text())
        self.dimension = int(self.config["dimension"])
        self.input_names: list[str] = list(self.config["input_names"])
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(self.config["max_length"]))
        self.tokenizer.enable_padding(pad_id=int(self.config.get("pad_token_id", 0)))
        self.session = create_session(self.bundle_dir / "model.onnx", intra_op_threads=intra_op_threads)
        log.info("loaded sentence encoder %s", version)

    def embed(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; similar texts have a high dot product."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            (pooled,) = self.session.run(
                None, encoder_features(self.tokenizer, [texts[i] for i in rows], self.input_names)
            )
            out[rows] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)
