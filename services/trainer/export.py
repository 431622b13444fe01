"""Export a fine-tuned classifier to ONNX (dynamo exporter) and prove parity with PyTorch."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.runtime.classifier import OnnxClassifier

log = logging.getLogger(__name__)
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]


class ExportParityError(Exception):
    """ONNX logits differ from PyTorch's beyond the tolerance: the export is not published."""


class _LogitsOnly(torch.nn.Module):
    """The exporter needs explicitly named forward arguments and a single tensor out."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).logits


def export_onnx(model: Any, tokenizer: Any, out_dir: Path, *, max_length: int) -> Path:
    model.eval()
    sample = tokenizer(
        ["a short ticket", "a somewhat longer ticket about a parcel that never came"],
        padding=True,
        return_tensors="pt",
    )
    args = tuple(sample[name] for name in INPUT_NAMES)
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=1, max=max(max_length, 8))
    shapes = {name: {0: batch, 1: seq} for name in INPUT_NAMES}
    path = out_dir / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _LogitsOnly(model),
            args,
            dynamo=True,
            dynamic_shapes=shapes,
            input_names=INPUT_NAMES,
            output_names=["logits"],
            verbose=False,
        )
    program.save(str(path))
    return path


def write_bundle_files(tokenizer: Any, out_dir: Path, *, labels: list[str], max_length: int) -> None:
    tokenizer.save_pretrained(str(out_dir))
    (out_dir / "labels.json").write_text(
        json.dumps({"labels": labels, "label2id": {label: i for i, label in enumerate(labels)}}, indent=2)
    )
    (out_dir / "config.json").write_text(
        json.dumps(
            {
                "task": "sequence-classification",
                "max_length": max_length,
                "input_names": INPUT_NAMES,
                "pad_token_id": int(tokenizer.pad_token_id or 0),
            },
            indent=2,
        )
    )


@torch.no_grad()
def check_parity(
    model: Any, tokenizer: Any, bundle_dir: Path, texts: list[str], *, max_length: int, tolerance: float
) -> float:
    """Compare our serving path (tokenizers + onnxruntime) with transformers + PyTorch; return max |Δ|."""
    runtime = OnnxClassifier(bundle_dir, version="parity-check")
    worst = 0.0
    for start in range(0, len(texts), 16):
        chunk = texts[start : start + 16]
        inputs = tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        expected = model(**inputs).logits.numpy()
        actual = runtime.logits(chunk)
        worst = max(worst, float(np.abs(expected - actual).max()))
    if worst > tolerance:
        raise ExportParityError(f"ONNX logits differ from PyTorch by {worst:.2e} > {tolerance:.0e}")
    log.info("ONNX parity on %d texts: max |Δlogit| = %.2e", len(texts), worst)
    return worst
