"""`helploop export --quantize int8|w8|fp16`: a new bundle with onnxruntime dynamic int8 quantization
(CPU), int8 weights in blocks of 32 (MatMulNBits: a generator's weights shrink 4x and it stays far closer
to float32 than per-tensor int8 does), or fp16 weights and activations (GPUs: tensor cores, half the memory
traffic)."""

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


def _pretranspose_constant_weights(model: Any) -> int:
    """Transpose(W) → MatMul becomes MatMul(W.T) with W.T stored: a tied LM head reads the embedding
    table through a Transpose, which onnxruntime would fold into a second float32 copy (113 MB for
    SmolLM2) and which a weight-only quantizer skips (its B is not an initializer)."""
    import numpy as np
    from onnx import numpy_helper

    weights = {i.name: i for i in model.graph.initializer}
    users: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    changed = 0
    for node in list(model.graph.node):
        if (
            node.op_type != "Transpose"
            or node.input[0] not in weights
            or len(weights[node.input[0]].dims) != 2
        ):
            continue
        readers = users.get(node.output[0], [])
        if not readers or any(r.op_type != "MatMul" or r.input[1] != node.output[0] for r in readers):
            continue
        matrix = numpy_helper.to_array(weights[node.input[0]])
        transposed = numpy_helper.from_array(np.ascontiguousarray(matrix.T), name=f"{node.input[0]}.T")
        model.graph.initializer.append(transposed)
        for reader in readers:
            reader.input[1] = transposed.name
        model.graph.node.remove(node)
        changed += 1
    return changed


def weight_only_model(source: Path, target: Path, *, block_size: int = 32, **_: Any) -> None:
    """MatMuls with constant weights → MatMulNBits: symmetric int8 blocks of `block_size`, computed with
    int8 activations per block (accuracy level 4: onnxruntime's fast CPU kernel; float32 compute measured
    2.7x slower than float32 weights). Embeddings (Gather) stay float32."""
    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    logging.getLogger(nbits.__name__).setLevel(logging.WARNING)  # else a line per skipped node
    model = onnx.load(str(source))
    moved = _pretranspose_constant_weights(model)
    log.info("weight-only int8: %d transposed weight(s) stored pre-transposed", moved)
    options: dict[str, Any] = {"block_size": block_size, "is_symmetric": True, "accuracy_level": 4}
    config = nbits.DefaultWeightOnlyQuantConfig(bits=8, **options)
    quantizer = nbits.MatMulNBitsQuantizer(model, bits=8, algo_config=config, **options)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=False)


QUANTIZERS = {"int8": quantize_model, "w8": weight_only_model, "fp16": half_model}
DESCRIPTIONS = {
    "fp16": "fp16 (onnxruntime float16 conversion; float32 outputs)",
    "w8": "int8 weights in symmetric blocks of 32 (MatMulNBits, accuracy level 4; float32 embeddings)",
}


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
        if mode in DESCRIPTIONS:
            return {"quantization": DESCRIPTIONS[mode]}
        granularity = "per tensor" if generator else "per channel"
        return {"quantization": f"int8-dynamic (onnxruntime, QInt8 weights {granularity})"}

    parent, version = derive_bundle(registry, model, suffix=mode, rewrite=rewrite)
    sizes = {v: (registry.bundle_dir(v) / graph).stat().st_size / 2**20 for v in (parent, version)}
    log.info("quantized %s -> %s (%.1f MB -> %.1f MB)", parent, version, sizes[parent], sizes[version])
    if activate:
        registry.activate(version)
    return version
