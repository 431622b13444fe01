"""`helploop export --quantize int8|fp16`: a new bundle with onnxruntime dynamic int8 quantization (CPU), or
with fp16 weights and activations (GPUs: tensor cores, half the memory traffic)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from services.trainer.derive import derive_bundle
from shared.registry import Registry

log = logging.getLogger(__name__)


def quantize_model(source: Path, target: Path, *, generator: bool = False) -> None:
    """Classifier: int8 weights per channel. Generator: per tensor, and only MatMuls with a constant
    weight — per-channel int8 turned SmolLM2's decoder into garbage with onnxruntime 1.32 here."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_name("model.prep.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(
        str(prepared),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=not generator,
        # weights and embeddings only: onnxruntime would otherwise rewrite ONNX's own Attention op
        # (opset 23) as its contrib QAttention, which does not take Attention's attributes
        op_types_to_quantize=["MatMul", "Gemm", "Gather"],
        extra_options={"MatMulConstBOnly": generator},
    )
    prepared.unlink()


def half_model(source: Path, target: Path, *, generator: bool = False) -> None:
    """fp16 graph; the classifier's outputs stay float32. The generator's KV cache goes fp16 too (the
    runtime allocates it in the graph's type); only its logits stay float32 for sampling."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    keep: bool | list[str] = ["logits"] if generator else True
    onnx.save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=keep), str(target))


QUANTIZERS = {"int8": quantize_model, "fp16": half_model}


def quantize_bundle(
    registry: Registry, model: str, *, mode: str = "int8", activate: bool = False, graph: str = "model.onnx"
) -> str:
    """Copy the bundle, quantize its graph (`model.onnx`; a generator's is `decoder.onnx`), record the
    parent, publish under a new version."""
    if mode not in QUANTIZERS:
        raise ValueError(f"unsupported quantization {mode!r}")
    generator = graph == "decoder.onnx"

    def rewrite(parent_dir: Path, staging: Path) -> dict[str, Any]:
        QUANTIZERS[mode](parent_dir / graph, staging / graph, generator=generator)
        if mode == "fp16":
            return {"quantization": "fp16 (onnxruntime float16 conversion; float32 outputs)"}
        granularity = "per tensor" if generator else "per channel"
        return {"quantization": f"int8-dynamic (onnxruntime, QInt8 weights {granularity})"}

    parent, version = derive_bundle(registry, model, suffix=mode, rewrite=rewrite)
    sizes = {v: (registry.bundle_dir(v) / graph).stat().st_size / 2**20 for v in (parent, version)}
    log.info("quantized %s -> %s (%.1f MB -> %.1f MB)", parent, version, sizes[parent], sizes[version])
    if activate:
        registry.activate(version)
    return version
