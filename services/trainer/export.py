"""Export the multi-head classifier to one ONNX graph (dynamo exporter) and prove parity with PyTorch."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from services.trainer.model import MultiHeadClassifier, WithEmbedding
from services.trainer.train import EMBEDDING, encode
from shared.runtime.classifier import HeadSpec, OnnxClassifier
from shared.runtime.long_text import DEFAULT_POLICY

log = logging.getLogger(__name__)
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
BUNDLE_FORMAT = 2


class ExportParityError(Exception):
    """ONNX logits differ from PyTorch's beyond the tolerance: the export is not published."""


# Opset 23 has ONNX's own Attention operator: the exporter writes each layer's scaled-dot-product attention
# as one node (onnxruntime runs it as one kernel) instead of ~15 (matmuls, scaling, masking, softmax, NaN
# guards); measured 8 % (2 threads) to 20 % (1 thread) more tickets/s at batch 1, logits within 1e-6.
EXPORT_OPSET = 23


def output_name(head: str) -> str:
    return f"logits_{head}"


def export_onnx(
    model: MultiHeadClassifier,
    tokenizer: Any,
    out_dir: Path,
    *,
    max_length: int,
    graph_cache: Path | None = None,
) -> Path | None:
    """`out_dir/model.onnx`. With `graph_cache`, a graph kept from an export of the same structure gets
    these weights (`export_reuse`; its directory is returned) instead of a trace (None), and a traced graph
    is kept there."""
    module = WithEmbedding(model).eval()
    path = out_dir / "model.onnx"
    cache = None
    if graph_cache is not None:
        from services.trainer.export_reuse import graph_key, write_with_weights

        cache = graph_cache / graph_key(module, max_length=max_length, opset=EXPORT_OPSET)
        if write_with_weights(module, cache, path):
            return cache
    _trace(module, tokenizer, path, max_length=max_length, head_names=model.head_names)
    if cache is not None:
        from services.trainer.export_reuse import remember

        remember(module, path, cache)
    return None


def _trace(
    module: WithEmbedding, tokenizer: Any, path: Path, *, max_length: int, head_names: list[str]
) -> None:
    sample = encode(
        tokenizer, ["a short ticket", "a somewhat longer ticket about a parcel that never came"], max_length
    )
    args = tuple(sample[name] for name in INPUT_NAMES)
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=1, max=max(max_length, 8))
    shapes = {name: {0: batch, 1: seq} for name in INPUT_NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            opset_version=EXPORT_OPSET,
            dynamic_shapes=shapes,
            input_names=INPUT_NAMES,
            output_names=[*(output_name(h) for h in head_names), EMBEDDING],
            verbose=False,
        )
    program.save(str(path))


def write_bundle_files(
    tokenizer: Any,
    out_dir: Path,
    *,
    heads: list[HeadSpec],
    max_length: int,
    languages: list[str],
    long_text: str = DEFAULT_POLICY,
) -> None:
    tokenizer.save_pretrained(str(out_dir))
    (out_dir / "labels.json").write_text(json.dumps({"heads": {h.name: h.labels for h in heads}}, indent=2))
    (out_dir / "config.json").write_text(
        json.dumps(
            {
                "format_version": BUNDLE_FORMAT,
                "task": "multi-head-classification",
                "max_length": max_length,
                "long_text": long_text,  # how a longer ticket is read (shared/runtime/long_text.py)
                "input_names": INPUT_NAMES,
                "pad_token_id": int(tokenizer.pad_token_id or 0),
                "heads": [asdict(h) for h in heads],
                "embedding_output": EMBEDDING,
                "languages": languages,
            },
            indent=2,
        )
    )


def check_parity(
    model: MultiHeadClassifier,
    tokenizer: Any,
    bundle_dir: Path,
    texts: list[str],
    *,
    max_length: int,
    tolerance: float,
) -> float:
    """Compare our serving path (tokenizers + onnxruntime) with transformers + PyTorch: every head's logits
    and the pooled embedding."""
    runtime = OnnxClassifier(bundle_dir, version="parity-check")
    worst = 0.0
    with torch.no_grad():
        for start in range(0, len(texts), 16):
            chunk = texts[start : start + 16]
            expected = WithEmbedding(model)(**encode(tokenizer, chunk, max_length))
            forward = runtime.forward_features(runtime.encode(chunk), with_embedding=True)  # truncated
            actual = [*(forward.logits[name] for name in model.head_names), forward.embedding]
            for want, got in zip(expected, actual, strict=True):
                worst = max(worst, float(np.abs(want.numpy() - got).max()))
    if worst > tolerance:
        raise ExportParityError(f"ONNX logits differ from PyTorch by {worst:.2e} > {tolerance:.0e}")
    log.info(
        "ONNX parity on %d texts, %d heads: max |Δlogit| = %.2e", len(texts), len(model.head_names), worst
    )
    return worst
