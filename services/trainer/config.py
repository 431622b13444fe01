"""Training configuration: a dataclass loaded from YAML or JSON, overridable from the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from services.trainer.base_model import DEFAULT_BASE_MODEL
from services.trainer.vocab_trim import DEFAULT_KEEP_TOP

PATH_FIELDS = ("train_file", "valid_file")
STOPPING_METRICS = ("loss", "macro_f1", "accuracy")
CLASS_WEIGHTING = ("none", "balanced")


@dataclass
class TrainConfig:
    train_file: Path
    valid_file: Path | None = None
    text_column: str = "text"
    head_columns: dict[str, str] = field(default_factory=lambda: {"intent": "label"})  # head → column
    base_model: str = DEFAULT_BASE_MODEL  # auto | multilingual-e5-small | minilm-l6 | a local HF model dir
    trim_vocabulary: bool = True  # a large unigram vocabulary keeps only the pieces its languages use
    vocabulary_keep_top: int = DEFAULT_KEEP_TOP  # most probable pieces kept per script (vocab_trim)
    seed: int = 13
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    dropout: float = 0.1  # on the pooled embedding, before the heads
    label_smoothing: float = 0.0
    batch_size: int = 32
    epochs: int = 4
    max_steps: int | None = None  # stop after this many optimizer steps (quick runs, tests)
    max_length: int = 128
    group_by_length: bool = True  # batches of similar lengths: less padding, faster epochs
    valid_fraction: float = 0.15
    early_stopping_metric: str = "loss"  # validation loss (lower is better), "macro_f1" or "accuracy"
    patience: int = 2  # epochs without improvement of that metric before stopping
    class_weighting: str = "none"  # "balanced": inverse class frequency in the loss
    freeze: str = "none"  # none | embeddings | bottom_n:<k> | head_only
    oos_label: str = "oos"  # a label with this name is trained as the out-of-scope class
    oos_max_in_scope_drop: float = 0.01  # the rejection threshold may cost at most this in-scope accuracy
    calibrate: bool = True  # temperature scaling + rejection threshold on validation
    parity_tolerance: float = 1e-4
    torch_threads: int | None = None

    def __post_init__(self) -> None:
        for name in PATH_FIELDS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))
        if self.early_stopping_metric not in STOPPING_METRICS:
            raise ValueError(
                f"early_stopping_metric must be one of {STOPPING_METRICS}, not {self.early_stopping_metric!r}"
            )
        if self.class_weighting not in CLASS_WEIGHTING:
            raise ValueError(
                f"class_weighting must be one of {CLASS_WEIGHTING}, not {self.class_weighting!r}"
            )
        if isinstance(self.base_model, Path):
            self.base_model = str(self.base_model)
        if not self.head_columns:
            raise ValueError("head_columns needs at least one head")

    @property
    def primary_head(self) -> str:
        return next(iter(self.head_columns))

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> TrainConfig:
        """Read YAML or JSON; `overrides` (e.g. from CLI flags) win over the file."""
        text = Path(path).read_text()
        if Path(path).suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(data) - known):
            raise ValueError(f"{path}: unknown training option(s) {unknown}")
        return cls(**{**data, **overrides})
