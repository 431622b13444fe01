"""`helploop train`: load data → fine-tune → export → parity check → publish (→ activate)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.trainer.base_model import MINILM_ENCODER, locate
from services.trainer.config import TrainConfig
from services.trainer.data import Example, load_examples, stratified_split
from shared.registry import Registry, new_version_id, sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    version: str
    bundle_dir: Path
    metrics: dict[str, Any]
    activated: bool


def load_splits(config: TrainConfig) -> tuple[list[Example], list[Example]]:
    columns = {"text_column": config.text_column, "label_column": config.label_column}
    examples = load_examples(config.train_file, **columns)
    if config.valid_file is not None:
        return examples, load_examples(config.valid_file, **columns)
    return stratified_split(examples, valid_fraction=config.valid_fraction, seed=config.seed)


def _code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _manifest(config: TrainConfig, base_dir: Path, parity: float) -> dict[str, Any]:
    data_files = [p for p in (config.train_file, config.valid_file) if p is not None]
    return {
        "task": "sequence-classification",
        "created_at": datetime.now(UTC).isoformat(),
        "base_model": {
            "dir": str(base_dir),
            "package": MINILM_ENCODER.package,
            "weights_sha256": MINILM_ENCODER.sha256 if config.base_model_dir is None else None,
        },
        "training_config": config.to_json(),
        "data": {str(p): sha256_file(p) for p in data_files},
        "code_version": _code_version(),
        "onnx_parity_max_abs_diff": parity,
    }


def run_training(config: TrainConfig, *, registry: Registry, activate: bool = False) -> TrainingResult:
    from services.trainer.export import check_parity, export_onnx, write_bundle_files
    from services.trainer.train import fine_tune

    started = time.perf_counter()
    base_dir = locate(MINILM_ENCODER, config.base_model_dir)
    train, valid = load_splits(config)
    log.info("training on %d examples, validating on %d", len(train), len(valid))
    outcome = fine_tune(config, str(base_dir), train, valid)
    staging = registry.staging_dir()
    try:
        write_bundle_files(outcome.tokenizer, staging, labels=outcome.labels, max_length=config.max_length)
        log.info("exporting ONNX (dynamo)...")
        export_onnx(outcome.model, outcome.tokenizer, staging, max_length=config.max_length)
        held_out = [e.text for e in (valid or train)[:64]]
        parity = check_parity(
            outcome.model,
            outcome.tokenizer,
            staging,
            held_out,
            max_length=config.max_length,
            tolerance=config.parity_tolerance,
        )
        metrics = {
            "validation": outcome.best,
            "history": outcome.history,
            "steps": outcome.steps,
            "train_examples": len(train),
            "valid_examples": len(valid),
            "labels": outcome.labels,
            "train_seconds": round(time.perf_counter() - started, 1),
        }
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
        version = new_version_id()
        bundle = registry.publish(staging, version=version, manifest=_manifest(config, base_dir, parity))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if activate:
        registry.activate(version)
    return TrainingResult(version, bundle, metrics, activated=activate)
