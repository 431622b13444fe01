"""The machine's own limits, measured in the same run as everything else: dense fp32 and int8 matrix
multiply throughput and memory read bandwidth on the threads the benchmarks use.

The compute limit of a classifier is then `peak / FLOPs per ticket`: what the hardware could do if every
cycle went to the model's matrix multiplies and nothing to tokenization, framework or Python overhead. A
decoder's limit is `bandwidth × batch / its weight bytes`: each step reads every weight once."""

from __future__ import annotations

import statistics
import time
from typing import Any

GEMM_SIZE = 1024  # large enough to reach the kernels' peak, small enough to run in about a second


def _median_seconds(run: Any, repeats: int) -> float:
    run()  # warm-up: thread pool, packing buffers
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _torch_fp32(threads: int, size: int, repeats: int) -> float:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        a, b = (torch.randn(size, size, generator=generator) for _ in range(2))
        with torch.inference_mode():
            return _median_seconds(lambda: torch.mm(a, b), repeats)
    finally:
        torch.set_num_threads(previous)


def _matmul_model(op: str, b: Any, in_type: int, out_type: int) -> bytes:
    """A one-node graph `Y = op(A, B)` with B a constant of A's square shape, serialized."""
    from onnx import helper, numpy_helper

    size = b.shape[0]
    graph = helper.make_graph(
        [helper.make_node(op, ["A", "B"], ["Y"])],
        "gemm",
        [helper.make_tensor_value_info("A", in_type, [size, size])],
        [helper.make_tensor_value_info("Y", out_type, [size, size])],
        initializer=[numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def _onnx_matmul(threads: int, size: int, repeats: int, *, int8: bool) -> float:
    """onnxruntime's own kernels (MLAS): MatMul in fp32, or MatMulInteger u8 × s8 → s32, the operator
    int8-quantized models run (VNNI where the CPU has it)."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto

    rng = np.random.default_rng(0)
    if int8:
        a = rng.integers(0, 255, (size, size), dtype=np.uint8)
        b = rng.integers(-128, 127, (size, size), dtype=np.int8)
        op, in_type, out_type = "MatMulInteger", TensorProto.UINT8, TensorProto.INT32
    else:
        a, b = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
        op, in_type, out_type = "MatMul", TensorProto.FLOAT, TensorProto.FLOAT
    model = _matmul_model(op, b, in_type, out_type)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return _median_seconds(lambda: session.run(None, {"A": a}), repeats)


def memory_read_bandwidth(threads: int, *, megabytes: int = 512, repeats: int = 5, rounds: int = 3) -> float:
    """GB/s that `threads` threads read from memory (PyTorch summing a float32 array far larger than the
    caches), the best of a few rounds: a decoder at batch 1 reads all its weights for every token, so this
    over its weight bytes is the fastest it can decode."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        array = torch.ones(megabytes * 2**20 // 4)
        best = max(1 / _median_seconds(array.sum, repeats) for _ in range(rounds))
    finally:
        torch.set_num_threads(previous)
    return round(megabytes * 2**20 * best / 1e9, 1)


def gemm_throughput(
    threads: int, *, size: int = GEMM_SIZE, repeats: int = 15, rounds: int = 3
) -> dict[str, float]:
    """Dense n × n × n matrix multiply on `threads` threads: fp32 GFLOP/s (the better of PyTorch's and
    onnxruntime's kernels) and int8 GOP/s (onnxruntime's MatMulInteger; PyTorch has no fast CPU int8 GEMM)."""
    operations = 2.0 * size**3
    torch_fp32 = onnx_fp32 = onnx_int8 = 0.0
    for _ in range(rounds):  # the best of a few rounds: a limit is what the machine can do when left alone
        torch_fp32 = max(torch_fp32, operations / _torch_fp32(threads, size, repeats) / 1e9)
        onnx_fp32 = max(onnx_fp32, operations / _onnx_matmul(threads, size, repeats, int8=False) / 1e9)
        onnx_int8 = max(onnx_int8, operations / _onnx_matmul(threads, size, repeats, int8=True) / 1e9)
    return {
        "threads": threads,
        "size": size,
        "torch_fp32_gflops": round(torch_fp32, 1),
        "onnxruntime_fp32_gflops": round(onnx_fp32, 1),
        "fp32_gflops": round(max(torch_fp32, onnx_fp32), 1),
        "int8_gops": round(onnx_int8, 1),
        "memory_read_gb_s": memory_read_bandwidth(threads),
    }


def _cuda_matmul_seconds(size: int, repeats: int, dtype: Any) -> float:
    """One n³ MatMul in onnxruntime's CUDA provider (cuBLAS, its default math mode), operands on the GPU."""
    import numpy as np
    import onnxruntime as ort
    from onnx import helper

    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(dtype) for _ in range(2))
    session = ort.InferenceSession(
        _matmul_model("MatMul", b, elem, elem), providers=["CUDAExecutionProvider"]
    )
    binding = session.io_binding()
    binding.bind_ortvalue_input("A", ort.OrtValue.ortvalue_from_numpy(a, "cuda", 0))
    binding.bind_output("Y", "cuda")
    return _median_seconds(lambda: session.run_with_iobinding(binding), repeats)


def gpu_gemm_throughput(*, size: int = 4096, repeats: int = 20, rounds: int = 3) -> dict[str, Any]:
    """The GPU's dense fp32 and fp16 matrix multiply throughput, through the same provider our models
    use (`helploop bench --device cuda`); the ceilings of the fp32 and fp16 variants."""
    import numpy as np

    operations = 2.0 * size**3
    fp32 = fp16 = 0.0
    for _ in range(rounds):
        fp32 = max(fp32, operations / _cuda_matmul_seconds(size, repeats, np.float32) / 1e9)
        fp16 = max(fp16, operations / _cuda_matmul_seconds(size, repeats, np.float16) / 1e9)
    return {
        "device": "cuda",
        "size": size,
        "threads": 1,
        "fp32_gflops": round(fp32, 1),
        "fp16_gflops": round(fp16, 1),
    }


def encoder_flops_per_token(config: dict[str, Any], tokens: float) -> float:
    """Multiply-adds ×2 per token of a BERT-style encoder: the four attention projections, the two
    feed-forward matrices, and attention scores/values over `tokens` positions, in every layer."""
    hidden, layers = int(config["hidden_size"]), int(config["num_hidden_layers"])
    intermediate = int(config["intermediate_size"])
    projections = 4 * hidden * hidden + 2 * hidden * intermediate
    attention = 2 * tokens * hidden
    return 2.0 * layers * (projections + attention)
