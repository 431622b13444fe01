"""`helploop train --serve int8` (and `auto`, the default, on a CPU): the new model's int8 child serves
where it keeps the float32 model's accuracy — on the validation split, through the serving runtime, what the
product returns (the rejection rule included) on the primary head. Otherwise the float32 model serves and
the reason says why.

int8 costs a worker 2.9 ms less CPU per ticket end to end (docs/benchmarks.md), and `make eval` measures the
same difference on public sets (Banking77 +0.1 pt, CLINC150 +0.04 pt); the nightly retrain then keeps the
choice (`services.trainer.retrain.flow.served_like`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.trainer.data import Example
from shared.registry import Registry

log = logging.getLogger(__name__)
MAX_INT8_LOSS_PT = 0.5  # accuracy points the int8 child may lose against float32 and still serve


def cuda_available() -> bool:
    """Whether onnxruntime here runs CUDA (`helploop train --serve auto` then serves float32: a dynamic-int8
    graph's quantizing and integer-matmul operators are CPU kernels, which a CUDA session would run apart
    from the GPU, copying activations back and forth)."""
    import onnxruntime as ort

    from shared.runtime.onnx_session import choose_providers

    return choose_providers(ort.get_available_providers())[0] == "CUDAExecutionProvider"  # as a session would


@dataclass(frozen=True)
class ServedChoice:
    version: str  # the version to activate: the int8 child or the float32 parent
    int8_version: str
    accuracy: dict[str, float]  # fp32 / int8, on the examples given
    reason: str


def accuracy_of(registry: Registry, version: str, examples: list[Example]) -> float:
    """What the product returns (rejection included) on the primary head, against the examples' labels."""
    from services.trainer.evaluate import evaluate_bundle
    from shared.runtime.classifier import OnnxClassifier

    registry.verify(version)
    classifier = OnnxClassifier(registry.bundle_dir(version), version=version)
    report = evaluate_bundle(classifier, examples, latency=False)
    return float(report["heads"][classifier.heads[0].name]["with_rejection"]["accuracy"])


def int8_where_it_holds(
    registry: Registry, parent: str, examples: list[Example], *, max_loss_pt: float = MAX_INT8_LOSS_PT
) -> ServedChoice:
    """Quantize `parent` (dynamic int8, per channel) and choose which of the two serves."""
    from services.trainer.quantize import quantize_bundle

    child = quantize_bundle(registry, parent, mode="int8")
    accuracy = {
        "fp32": accuracy_of(registry, parent, examples),
        "int8": accuracy_of(registry, child, examples),
    }
    change = 100 * (accuracy["int8"] - accuracy["fp32"])
    holds = change >= -max_loss_pt
    reason = (
        f"int8 {'serves' if holds else 'does not serve'}: accuracy {accuracy['int8']:.4f} against float32 "
        f"{accuracy['fp32']:.4f} on {len(examples)} validation tickets ({change:+.2f} pt; at most "
        f"-{max_loss_pt} pt allowed)"
    )
    log.info("%s", reason)
    return ServedChoice(child if holds else parent, child, accuracy, reason)
