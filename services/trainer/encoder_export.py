"""`helploop kb build-encoder`: the pretrained MiniLM as a mean-pooling sentence encoder in ONNX.

Cached by the weights' sha256: a second call finds the published bundle and returns at once.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from services.trainer.base_model import MINILM_ENCODER, locate
from services.trainer.export import INPUT_NAMES, ExportParityError
from services.trainer.model import mean_pool
from services.trainer.train import EMBEDDING, encode
from shared.registry import Registry, RegistryError, sha256_file
from shared.runtime.encoder import SentenceEncoder

log = logging.getLogger(__name__)
MAX_LENGTH = 256
PARITY_TEXTS = [
    "Where is my parcel? It was due last week.",
    "How long do refunds take to reach my card?",
    "Returns policy — You can return unworn items within 30 days of delivery for a full refund.",
]


class MeanPooling(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return mean_pool(self.encoder, input_ids, attention_mask, token_type_ids)


def _export(model: MeanPooling, tokenizer: object, path: Path) -> None:
    sample = encode(tokenizer, ["a short text", "a somewhat longer text about a parcel"], MAX_LENGTH)
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=1, max=MAX_LENGTH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            tuple(sample[name] for name in INPUT_NAMES),
            dynamo=True,
            dynamic_shapes={name: {0: batch, 1: seq} for name in INPUT_NAMES},
            input_names=INPUT_NAMES,
            output_names=[EMBEDDING],
            verbose=False,
        )
    program.save(str(path))


def _check_parity(model: MeanPooling, tokenizer: object, staging: Path, tolerance: float = 1e-4) -> float:
    with torch.no_grad():
        expected = model(**encode(tokenizer, PARITY_TEXTS, MAX_LENGTH)).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    actual = SentenceEncoder(staging, version="parity-check").embed(PARITY_TEXTS)
    worst = float(np.abs(expected - actual).max())
    if worst > tolerance:
        raise ExportParityError(f"sentence encoder ONNX differs from PyTorch by {worst:.2e}")
    return worst


def build_sentence_encoder(registry: Registry, *, base_dir: Path | None = None, activate: bool = True) -> str:
    """Export (or find) the encoder bundle for these weights; returns its version."""
    from transformers import AutoModel, AutoTokenizer

    directory = locate(MINILM_ENCODER, base_dir)
    weights = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
    if not weights:
        raise RegistryError(f"{directory}: no *.safetensors or *.bin weights")
    digest = sha256_file(weights[0])
    version = f"{directory.name if base_dir else 'minilm-l6'}-{digest[:12]}"
    try:
        registry.verify(version)
    except RegistryError:
        staging = registry.staging_dir()
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(directory))
            model = MeanPooling(AutoModel.from_pretrained(str(directory), add_pooling_layer=False)).eval()
            _export(model, tokenizer, staging / "model.onnx")
            tokenizer.save_pretrained(str(staging))
            config = {
                "max_length": MAX_LENGTH,
                "dimension": int(model.encoder.config.hidden_size),
                "input_names": INPUT_NAMES,
                "pad_token_id": int(tokenizer.pad_token_id or 0),
                "pooling": "mean",
                "normalised": True,
            }
            (staging / "config.json").write_text(json.dumps(config, indent=2))
            parity = _check_parity(model, tokenizer, staging)
            manifest = {
                "task": "sentence-embedding",
                "weights_sha256": digest,
                "onnx_parity_max_abs_diff": parity,
            }
            registry.publish(staging, version=version, manifest=manifest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("built sentence encoder %s (parity %.1e)", version, parity)
    if activate and registry.active_version() != version:
        registry.activate(version)
    return version
