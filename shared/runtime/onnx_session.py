"""What every onnxruntime model of ours shares: building the session, and encoder inputs from `tokenizers`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def choose_providers(available: list[str]) -> list[str]:
    """CUDA first when onnxruntime offers it, CPU always as the fallback."""
    preferred = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*preferred, "CPUExecutionProvider"]


def default_intra_op_threads() -> int:
    """The thread count a session gets when none is asked for: `OMP_NUM_THREADS` where it is set (a process
    told to use one core — a test worker beside another, a container's share — keeps to it; onnxruntime
    itself reads no such variable), else 0: onnxruntime's own default, one thread per physical core."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 0


# How long an idle intra-op thread of a classifier or encoder session spins for the next operator before it
# sleeps: the gap between two operators of one run is a few microseconds, the gap between two tickets is
# milliseconds. Sleeping outright (0) made a second thread useless: MiniLM-L6 on one short ticket, two
# threads, back to back 3.72 ms p50 against 3.72 with one; spinning 20 µs 2.24 ms, and less CPU per ticket
# (4.36 against 5.43 ms) — docs/benchmarks.md, "Threads that spin between operators".
BRIEF_SPIN_US = 20


def create_session(path: Path, *, intra_op_threads: int = 0, spin_us: int | None = BRIEF_SPIN_US) -> Any:
    """`intra_op_threads`: 0 for `default_intra_op_threads()`. `spin_us`: how long an idle intra-op thread
    spins for more work before it sleeps — briefly by default (`BRIEF_SPIN_US`); None: onnxruntime's own
    default, which keeps spinning for some milliseconds after a run (a decoder: its next step follows at
    once); 0: never (the thread sleeps as soon as it is idle)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels `onnxruntime-gpu[cuda,cudnn]` installs
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads or default_intra_op_threads()
    # a worker shares its cores with the gateway, the database and other workers: a classifier's threads
    # must not spin between tickets (onnxruntime's default spin stole their CPU under load), only between
    # the operators of one run. A decoder runs ~1,850 small operators a step and its steps back to back:
    # waking sleeping threads for each cost SmolLM2 a fifth of its tokens/s at batch 1 (docs/benchmarks.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0" if spin_us == 0 else "1")
    if spin_us:
        options.add_session_config_entry("session.intra_op.spin_duration_us", str(spin_us))
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), sess_options=options, providers=choose_providers(available))
    release_freed_memory()
    return session


def release_freed_memory() -> None:
    """Give the heap pages freed while a session was built back to the system (glibc keeps them): the
    graph's protobuf and the weights onnxruntime re-packed. Qwen2.5's w4 decoder: 777 → 618 MB RSS."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:  # another C library (musl, macOS): nothing to release this way
        pass


def run_bound(session: Any, feeds: dict[str, Any], outputs: dict[str, str]) -> list[Any]:
    """Run with IO binding: numpy feeds are copied in, OrtValue feeds (say a previous step's output left
    on the GPU) are used where they are; each output lands on the device named ("cpu", "cuda")."""
    binding = session.io_binding()
    for name, value in feeds.items():
        if isinstance(value, np.ndarray):
            binding.bind_cpu_input(name, value)
        else:
            binding.bind_ortvalue_input(name, value)
    for name, device in outputs.items():
        binding.bind_output(name, device)
    session.run_with_iobinding(binding)
    return binding.get_outputs()


def session_device(session: Any) -> str:
    """Where the session computes: "cuda" when the CUDA provider came first, else "cpu"."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


def int8_on_cuda(bundle_dir: Path, device: str) -> str | None:
    """The float32 parent to serve instead when a dynamic-int8 bundle (`helploop train`'s default on a CPU
    machine) is loaded on CUDA, where its quantizing and integer-matmul operators run on the CPU; else
    None. The caller warns: the bundle still serves, slower than its parent would."""
    manifest = Path(bundle_dir) / "manifest.json"
    if device != "cuda" or not manifest.is_file():
        return None
    record = json.loads(manifest.read_text())
    if not str(record.get("quantization") or "").startswith("int8"):
        return None
    return str(record.get("parent_version") or "its float32 parent")


# graph input -> (attribute of a `tokenizers` Encoding, padding value)
ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def encoder_features(tokenizer: Any, texts: list[str], input_names: list[str]) -> dict[str, np.ndarray]:
    """input_ids / attention_mask / token_type_ids (those the graph takes) for a batch the tokenizer pads."""
    return pad_encodings(tokenizer.encode_batch(texts), input_names, pad_id=0)


def pad_encodings(encodings: list[Any], input_names: list[str], *, pad_id: int) -> dict[str, np.ndarray]:
    """Graph inputs for encodings of any lengths, right-padded to the longest (ids with `pad_id`)."""
    width = max(len(e.ids) for e in encodings)
    features = {}
    for name in input_names:
        rows = np.full((len(encodings), width), pad_id if name == "input_ids" else 0, dtype=np.int64)
        for i, encoding in enumerate(encodings):
            values = getattr(encoding, ENCODING_FIELDS[name])
            rows[i, : len(values)] = values
        features[name] = rows
    return features
