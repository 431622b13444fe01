"""What every onnxruntime model of ours shares: building the session, and encoder inputs from `tokenizers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def choose_providers(available: list[str]) -> list[str]:
    """CUDA first when onnxruntime offers it, CPU always as the fallback."""
    preferred = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*preferred, "CPUExecutionProvider"]


def create_session(path: Path, *, intra_op_threads: int = 0) -> Any:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels `onnxruntime-gpu[cuda,cudnn]` installs
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=choose_providers(available))


def encoder_features(tokenizer: Any, texts: list[str], input_names: list[str]) -> dict[str, np.ndarray]:
    """input_ids / attention_mask / token_type_ids (those the graph takes) for a padded batch."""
    encodings = tokenizer.encode_batch(texts)
    features = {
        "input_ids": [e.ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
    }
    return {name: np.asarray(features[name], dtype=np.int64) for name in input_names}
