"""`helploop export --quantize int8|w8|w4|fp16`: a new bundle with onnxruntime dynamic int8 quantization
(CPU), int8 (w8) or 4-bit (w4) weights in blocks of 32 (MatMulNBits: a generator's weights shrink 4x/8x
and stay far closer to float32 than per-tensor int8 does), or fp16 weights and activations (GPUs: tensor
cores, half the memory traffic)."""

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


def _embedding_tables(model: Any) -> list[tuple[Any, Any]]:
    """(Gather node, its float table) for every large embedding table read by one Gather on axis 0."""
    from onnx import TensorProto

    weights = {i.name: i for i in model.graph.initializer}
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    found = []
    for node in model.graph.node:
        table = weights.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or len(table.dims) != 2 or table.data_type != TensorProto.FLOAT:
            continue
        if readers[table.name] != 1:  # read elsewhere too (an LM head): leave it to the MatMul quantizer
            continue
        if any(a.name == "axis" and a.i != 0 for a in node.attribute) or table.dims[0] < 1024:
            continue
        found.append((node, table))
    return found


def _int8_rows(name: str, matrix: Any, ids: str, out: str) -> tuple[list[Any], list[Any]]:
    """int8 table · per-row scale: Gather both, Cast, Mul (standard ops)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    scale = np.maximum(np.abs(matrix).max(axis=1, keepdims=True), 1e-12) / 127.0
    codes = np.clip(np.rint(matrix / scale), -127, 127).astype(np.int8)
    tensors = [
        numpy_helper.from_array(codes, f"{name}.int8"),
        numpy_helper.from_array(scale, f"{name}.scale"),
    ]
    nodes = [
        helper.make_node("Gather", [f"{name}.int8", ids], [f"{out}.int8"], axis=0),
        helper.make_node("Cast", [f"{out}.int8"], [f"{out}.float"], to=TensorProto.FLOAT),
        helper.make_node("Gather", [f"{name}.scale", ids], [f"{out}.scale"], axis=0),
        helper.make_node("Mul", [f"{out}.float", f"{out}.scale"], [out]),
    ]
    return tensors, nodes


def _int4_blocks(name: str, matrix: Any, ids: str, out: str, block: int = 32) -> tuple[list[Any], list[Any]]:
    """Symmetric 4-bit blocks of `block` along each row (onnxruntime's GatherBlockQuantized)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rows, width = matrix.shape
    blocks = matrix.reshape(rows, width // block, block)
    scale = np.maximum(np.abs(blocks).max(axis=2, keepdims=True), 1e-12) / 7.0
    codes = (np.clip(np.rint(blocks / scale), -8, 7).astype(np.int8) & 0x0F).astype(np.uint8)
    codes = codes.reshape(rows, width)
    packed = codes[:, 0::2] | (codes[:, 1::2] << 4)  # two per byte, the first in the low nibble
    tensors = [
        helper.make_tensor(f"{name}.int4", TensorProto.INT4, [rows, width], packed.tobytes(), raw=True),
        numpy_helper.from_array(scale.reshape(rows, width // block).astype(np.float32), f"{name}.scale"),
    ]
    node = helper.make_node(
        "GatherBlockQuantized",
        [f"{name}.int4", ids, f"{name}.scale"],
        [out],
        domain="com.microsoft",
        gather_axis=0,
        quantize_axis=1,
        block_size=block,
    )
    return tensors, [node]


def _quantize_embeddings(model: Any, *, bits: int = 8) -> int:
    """Large embedding tables: int8 per row (a quarter of float32; Qwen2.5-0.5B's 151,936 × 896 table
    545 → 136 MB) or, with `bits=4`, 4-bit blocks of 32 (an eighth: 68 MB); rows are dequantized as they
    are looked up."""
    from onnx import helper, numpy_helper

    tables = _embedding_tables(model)
    for node, table in tables:
        matrix = numpy_helper.to_array(table)
        ids, out = node.input[1], node.output[0]
        four = bits == 4 and matrix.shape[1] % 32 == 0
        tensors, nodes = (_int4_blocks if four else _int8_rows)(table.name, matrix, ids, out)
        if four and not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        model.graph.initializer.remove(table)
        model.graph.initializer.extend(tensors)
        position = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        for offset, new in enumerate(nodes):
            model.graph.node.insert(position + offset, new)
    return len(tables)


def weight_only_model(source: Path, target: Path, *, block_size: int = 32, bits: int = 8, **_: Any) -> None:
    """MatMuls with constant weights → MatMulNBits: symmetric `bits`-bit blocks of `block_size`, computed
    with int8 activations per block (accuracy level 4: onnxruntime's fast CPU kernel; float32 compute
    measured 2.7x slower than float32 weights). Large embedding tables (Gather) → int8 per row (w8) or
    4-bit blocks (w4)."""
    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    logging.getLogger(nbits.__name__).setLevel(logging.WARNING)  # else a line per skipped node
    model = onnx.load(str(source))
    moved = _pretranspose_constant_weights(model)
    embeddings = _quantize_embeddings(model, bits=bits)
    log.info(
        "weight-only int%d: %d transposed weight(s) stored pre-transposed, %d embedding table(s) quantized",
        bits,
        moved,
        embeddings,
    )
    options: dict[str, Any] = {"block_size": block_size, "is_symmetric": True, "accuracy_level": 4}
    config = nbits.DefaultWeightOnlyQuantConfig(bits=bits, **options)
    quantizer = nbits.MatMulNBitsQuantizer(model, bits=bits, algo_config=config, **options)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=False)


def weight_only_4bit(source: Path, target: Path, **kwargs: Any) -> None:
    weight_only_model(source, target, bits=4, **kwargs)


QUANTIZERS = {"int8": quantize_model, "w8": weight_only_model, "w4": weight_only_4bit, "fp16": half_model}
DESCRIPTIONS = {
    "fp16": "fp16 (onnxruntime float16 conversion; float32 outputs)",
    "w8": "int8 weights in symmetric blocks of 32 (MatMulNBits, accuracy level 4; int8 embeddings per row)",
    "w4": "4-bit weights in symmetric blocks of 32 (MatMulNBits, accuracy level 4; 4-bit embedding blocks)",
}


def external_data_files(graph: Path) -> set[str]:
    """The files a graph keeps its weights in beside itself (a graph over protobuf's 2 GiB limit)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(graph), load_external_data=False)
    return {ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)}


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
        for name in external_data_files(parent_dir / graph):  # the new graph holds its weights itself
            (staging / name).unlink(missing_ok=True)
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
