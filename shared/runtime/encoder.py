"""Serving-side sentence encoder: mean-pooled embeddings through onnxruntime, L2-normalised (no torch).

A bundle (built by `helploop kb build-encoder`, cached by the weights' sha256) holds model.onnx with one
output `sentence_embedding`, tokenizer.json and config.json. An encoder trained with prefixes
(multilingual-e5: `query: ` / `passage: `) names them in config.json; `embed_queries` and
`embed_passages` add them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from shared.runtime.onnx_session import create_session, encoder_features

log = logging.getLogger(__name__)
DEFAULT_MIN_RELEVANCE = 0.25  # MiniLM's, for bundles built before the floor was recorded


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
        self.query_prefix = str(self.config.get("query_prefix", ""))
        self.passage_prefix = str(self.config.get("passage_prefix", ""))
        # cosine below which a passage is not about the query (encoders differ: e5's scores crowd high)
        self.min_relevance = float(self.config.get("min_relevance", DEFAULT_MIN_RELEVANCE))
        log.info("loaded sentence encoder %s", version)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Search queries (tickets), with the model's query prefix."""
        return self.embed([self.query_prefix + t for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Documents to be found (article chunks), with the model's passage prefix."""
        return self.embed([self.passage_prefix + t for t in texts])

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
