"""Training configuration: one dataclass, saved with the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    train_file: Path
    valid_file: Path | None = None
    text_column: str = "text"
    label_column: str = "label"
    base_model_dir: Path | None = None  # default: the pinned MiniLM encoder package
    seed: int = 13
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    batch_size: int = 32
    epochs: int = 4
    max_steps: int | None = None  # stop after this many optimizer steps (quick runs, tests)
    max_length: int = 128
    valid_fraction: float = 0.15
    early_stopping_metric: str = "loss"  # validation loss (lower is better), "macro_f1" or "accuracy"
    patience: int = 2  # epochs without improvement of that metric before stopping
    parity_tolerance: float = 1e-4
    torch_threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.early_stopping_metric not in ("loss", "macro_f1", "accuracy"):
            raise ValueError(
                f"early_stopping_metric must be loss, macro_f1 or accuracy, not "
                f"{self.early_stopping_metric!r}"
            )

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
