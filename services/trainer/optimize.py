"""`helploop export --fuse`: a new bundle whose graph went through onnxruntime's transformer optimizer
(attention, layer-norm, GELU and bias fusions into single kernels), checked against its parent."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.derive import derive_bundle
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier

log = logging.getLogger(__name__)
PARITY_TEXTS = (
    "My parcel never arrived, where is it?",
    "I was charged twice for the same order and want my money back.",
    "hi",
    "Could you change the delivery address of order 12345 to 5 Main Street? " * 6,
)
PARITY_TOLERANCE = 1e-3  # fused kernels reorder floating-point sums; logits stay this close


class FusionParityError(RuntimeError):
    """The fused graph's logits differ from the parent's."""


def fuse_model(source: Path, target: Path) -> dict[str, int]:
    """Fuse `source` into `target`; returns the fused operator counts (zero means no pattern matched)."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(source), model_type="bert", num_heads=0, hidden_size=0, opt_level=1)
    model.save_model_to_file(str(target))
    return {op: count for op, count in model.get_fused_operator_statistics().items() if count}


def max_logit_difference(parent: Path, child: Path, texts: tuple[str, ...] = PARITY_TEXTS) -> float:
    a = OnnxClassifier(parent, version="parent", intra_op_threads=1).forward(list(texts), with_embedding=True)
    b = OnnxClassifier(child, version="child", intra_op_threads=1).forward(list(texts), with_embedding=True)
    pairs: list[tuple[Any, Any]] = [(a.logits[k], b.logits[k]) for k in a.logits]
    if a.embedding is not None and b.embedding is not None:
        pairs.append((a.embedding, b.embedding))
    return max(float(np.abs(x - y).max()) for x, y in pairs)


def fuse_bundle(registry: Registry, model: str, *, activate: bool = False) -> str:
    """Copy the bundle, fuse its graph, verify the logits against the parent, publish a new version."""

    def rewrite(parent_dir: Path, staging: Path) -> dict[str, Any]:
        fused_ops = fuse_model(parent_dir / "model.onnx", staging / "model.onnx")
        difference = max_logit_difference(parent_dir, staging)
        if difference > PARITY_TOLERANCE:
            raise FusionParityError(f"fused logits differ by {difference:.2e} > {PARITY_TOLERANCE:.0e}")
        return {"optimization": {"fused_operators": fused_ops, "max_logit_difference": difference}}

    parent, version = derive_bundle(registry, model, suffix="fused", rewrite=rewrite)
    log.info("fused %s -> %s (%s)", parent, version, registry.manifest(version)["optimization"])
    if activate:
        registry.activate(version)
    return version
