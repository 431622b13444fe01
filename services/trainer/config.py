"""Training configuration: a dataclass loaded from YAML or JSON, overridable from the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from services.trainer.base_model import DEFAULT_BASE_MODEL
from services.trainer.vocab_trim import DEFAULT_KEEP_TOP
from shared.runtime.long_text import DEFAULT_POLICY, POLICIES

PATH_FIELDS = ("train_file", "valid_file")
STOPPING_METRICS = ("loss", "macro_f1", "accuracy")
CLASS_WEIGHTING = ("none", "balanced", "sqrt")
CONTRASTIVE_CHOICES = ("auto", "always", "never")
CONTRASTIVE_LOSSES = ("supcon", "cosine")
# Options left unset take the chosen base model's recipe (measured: docs/models.md "Choosing the base model").
# MiniLM-L6 reached 92.9 % on Banking77 with 4 epochs stopped on validation loss; multilingual-e5-small,
# 12 layers and a rare-intent-heavy Chinese set, needed longer: on CAIS 4 epochs/loss gave 94.27 % (below
# the TF-IDF baseline's 94.96), 10 epochs stopped on macro-F1 with label smoothing 0.1 gave 95.26 %.
RECIPES: dict[str, dict[str, Any]] = {
    "minilm-l6": {"epochs": 4, "early_stopping_metric": "loss", "patience": 2, "label_smoothing": 0.0},
    "multilingual-e5-small": {
        "epochs": 10,
        "early_stopping_metric": "macro_f1",
        "patience": 3,
        "label_smoothing": 0.1,
    },
}
RECIPE_FALLBACK = "minilm-l6"  # a local model directory


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
    label_smoothing: float | None = None  # None: the base model's recipe (RECIPES)
    batch_size: int = 32
    epochs: int | None = None  # None: the base model's recipe
    max_steps: int | None = None  # stop after this many optimizer steps (quick runs, tests)
    max_length: int = 128
    long_text: str = DEFAULT_POLICY  # a ticket past max_length at inference: truncate | head_tail | chunks
    group_by_length: bool = True  # batches of similar lengths: less padding, faster epochs
    valid_fraction: float = 0.15
    early_stopping_metric: str | None = None  # "loss" (lower is better), "macro_f1", "accuracy"; None: recipe
    patience: int | None = None  # epochs without improvement of that metric before stopping; None: recipe
    class_weighting: str = "none"  # "balanced": inverse class frequency in the loss; "sqrt": its root
    freeze: str = "none"  # none | embeddings | bottom_n:<k> | head_only
    oos_label: str = "oos"  # a label with this name is trained as the out-of-scope class
    oos_max_in_scope_drop: float = 0.01  # the rejection threshold may cost at most this in-scope accuracy
    calibrate: bool = True  # temperature scaling + rejection threshold on validation
    # Few labelled examples (services/trainer/contrastive.py): a contrastive stage on the encoder, then heads
    # fitted on its frozen embeddings. Measured on Banking77 at 10 per intent (docs/models.md, "Few labelled
    # examples"): supcon 82.95 % (lr 1e-4) / 82.40 % (5e-5), SetFit's cosine pairs at equal compute 81.75 %,
    # end-to-end fine-tuning after the stage 80.78 %, no stage 74.06 %.
    contrastive: str = "auto"  # auto (when few examples per label) | always | never
    contrastive_max_per_label: float = 20  # auto: median examples per label of the primary head at most this
    contrastive_loss: str = "supcon"  # supcon (in-batch, every same-label pair) | cosine (SetFit's pairs)
    contrastive_iterations: int = 20  # each example drawn about this many times
    contrastive_learning_rate: float = 1e-4
    contrastive_temperature: float = 0.1  # supcon
    contrastive_end_to_end: bool = False  # after the stage, fine-tune encoder and heads together too
    parity_tolerance: float = 1e-4
    torch_threads: int | None = None

    def __post_init__(self) -> None:
        for name in PATH_FIELDS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))
        if self.early_stopping_metric not in (*STOPPING_METRICS, None):
            raise ValueError(
                f"early_stopping_metric must be one of {STOPPING_METRICS}, not {self.early_stopping_metric!r}"
            )
        if self.class_weighting not in CLASS_WEIGHTING:
            raise ValueError(
                f"class_weighting must be one of {CLASS_WEIGHTING}, not {self.class_weighting!r}"
            )
        if self.long_text not in POLICIES:
            raise ValueError(f"long_text must be one of {POLICIES}, not {self.long_text!r}")
        if self.contrastive not in CONTRASTIVE_CHOICES:
            raise ValueError(f"contrastive must be one of {CONTRASTIVE_CHOICES}, not {self.contrastive!r}")
        if self.contrastive_loss not in CONTRASTIVE_LOSSES:
            raise ValueError(
                f"contrastive_loss must be one of {CONTRASTIVE_LOSSES}, not {self.contrastive_loss!r}"
            )
        if isinstance(self.base_model, Path):
            self.base_model = str(self.base_model)
        if not self.head_columns:
            raise ValueError("head_columns needs at least one head")

    def for_base(self, base_name: str) -> TrainConfig:
        """This config with every option left unset taken from `base_name`'s recipe."""
        recipe = RECIPES.get(base_name, RECIPES[RECIPE_FALLBACK])
        return replace(self, **{k: v for k, v in recipe.items() if getattr(self, k) is None})

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
