"""Training configuration: a dataclass loaded from YAML or JSON, overridable from the CLI; each field
carries its help (and choices), from which `helploop train`'s flags are generated."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from services.trainer.base_model import DEFAULT_BASE_MODEL
from services.trainer.precision import PRECISIONS
from services.trainer.vocab_trim import DEFAULT_KEEP_TOP
from shared.runtime.long_text import DEFAULT_POLICY, POLICIES

PATH_FIELDS = ("train_file", "valid_file")
STOPPING_METRICS = ("loss", "macro_f1", "accuracy")
CLASS_WEIGHTING = ("none", "balanced", "sqrt")
CONTRASTIVE_CHOICES = ("auto", "always", "never")
LEXICAL_CHOICES = ("auto", "never")
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


def option(default: Any = None, doc: str = "", **meta: Any) -> Any:
    """A TrainConfig field with its `helploop train --flag` help (and choices): the CLI is generated."""
    return field(default=default, metadata={"help": doc, **meta})


@dataclass
class TrainConfig:
    train_file: Path = field(metadata={"help": "CSV or JSONL with a text column and label column(s)"})
    valid_file: Path | None = option(doc="validation file (default: a stratified split of --train)")
    text_column: str = option("text", "the column with the ticket's text")
    head_columns: dict[str, str] = field(default_factory=lambda: {"intent": "label"})  # head → column
    base_model: str = option(
        DEFAULT_BASE_MODEL,
        "auto: minilm-l6 when the training tickets are all English, else multilingual-e5-small; "
        "multilingual-e5-small (Chinese, English and ~100 more languages), minilm-l6 (English only, "
        "6 layers: twice as fast) or a local Hugging Face model directory",
    )
    trim_vocabulary: bool = option(
        True,
        "a large unigram vocabulary keeps only the pieces its training languages use (--no-trim-vocabulary: "
        "all 250k pieces, a bundle ~3x larger)",
    )
    vocabulary_keep_top: int = option(DEFAULT_KEEP_TOP, "most probable pieces kept per script when trimming")
    seed: int = option(13, "random seed (split, initialisation, batches)")
    learning_rate: float = option(1e-4, "peak learning rate (AdamW, linear warm-up and decay)")
    weight_decay: float = option(0.01, "AdamW weight decay")
    warmup_ratio: float = option(0.06, "fraction of the steps spent warming the learning rate up")
    dropout: float = option(0.1, "dropout on the pooled embedding, before the heads")
    label_smoothing: float | None = option(doc="default: the base model's recipe")
    batch_size: int = option(32, "tickets per optimizer step")
    epochs: int | None = option(doc="default: the base model's recipe")
    max_steps: int | None = option(doc="stop after this many optimizer steps (quick runs)")
    max_length: int = option(128, "tokens per window; longer tickets follow --long-text")
    long_text: str = option(
        DEFAULT_POLICY,
        "a ticket past --max-length at inference: truncate, head_tail or chunks",
        choices=POLICIES,
    )
    group_by_length: bool = option(True, "batches of similar lengths: less padding, faster epochs")
    valid_fraction: float = option(0.15, "the validation share when --valid is not given")
    early_stopping_metric: str | None = option(
        doc="default: the base model's recipe (MiniLM-L6: 4 epochs, loss, patience 2, no label smoothing; "
        "multilingual-e5-small: 10 epochs, macro_f1, patience 3, label smoothing 0.1)",
        choices=STOPPING_METRICS,
    )
    patience: int | None = option(doc="epochs without improvement before stopping; default: the recipe's")
    class_weighting: str = option(
        "none",
        "balanced: inverse class frequency in the loss; sqrt: its square root",
        choices=CLASS_WEIGHTING,
    )
    freeze: str = option("none", "none | embeddings | bottom_n:<k> | head_only")
    oos_label: str = option("oos", "a label with this name is trained as the out-of-scope class")
    oos_pseudo_share: float = option(
        0.0,
        "pseudo out-of-scope tickets per batch, as a share of its size: mixes of two in-scope tickets' "
        "embeddings trained towards the out-of-scope class (services/trainer/outliers.py; 0: none)",
    )
    oos_max_in_scope_drop: float = option(0.01, "in-scope accuracy the rejection threshold may cost at most")
    oos_reject_rate: float = option(
        0.02,
        "without out-of-scope examples in validation: the share of known validation tickets the out-of-scope "
        "threshold sets aside (higher catches more requests no intent covers and rejects more known ones)",
    )
    calibrate: bool = option(True, "temperature scaling and the out-of-scope threshold on validation")
    # Few labelled examples (services/trainer/contrastive.py): a contrastive stage on the encoder, then heads
    # fitted on its frozen embeddings. Measured on Banking77 at 10 per intent (docs/models.md, "Few labelled
    # examples"): supcon 82.95 % (lr 1e-4) / 82.40 % (5e-5), SetFit's cosine pairs at equal compute 81.75 %,
    # end-to-end fine-tuning after the stage 80.78 %, no stage 74.06 %.
    contrastive: str = option(
        "auto",
        "the few-shot stage before the heads (contrastive pairs of same/different intents, SetFit-style): "
        "auto runs it when the intents have --contrastive-max-per-label training examples or fewer (median)",
        choices=CONTRASTIVE_CHOICES,
    )
    contrastive_max_per_label: float = option(20, "auto: the stage runs at or below this many per label")
    contrastive_loss: str = option(
        "supcon",
        "supcon (in-batch, every same-label pair) or cosine (SetFit's pairs)",
        choices=CONTRASTIVE_LOSSES,
    )
    contrastive_iterations: int = option(20, "each example drawn about this many times in the stage")
    contrastive_learning_rate: float = option(1e-4, "the stage's learning rate")
    contrastive_temperature: float = option(0.1, "supcon's temperature")
    contrastive_end_to_end: bool = option(False, "after the stage, fine-tune encoder and heads together too")
    contrastive_runs: int = option(
        3,
        "the stage run this many times from the same pre-trained encoder with seeds seed, seed+1, ..., the "
        "encoders' weights then averaged (a model soup: one encoder served, as fast as after one run; the "
        "stage takes that many times as long; 1: one run)",
    )
    parity_tolerance: float = option(1e-4, "largest |logit difference| between ONNX and PyTorch at export")
    torch_threads: int | None = option(doc="PyTorch threads for training (default: all cores)")
    precision: str = option(
        "auto",
        "the training steps' arithmetic: auto runs them in bfloat16 autocast where the CPU has native "
        "bfloat16 (AVX512_BF16 or AMX: ~1.6x faster steps), else float32; weights, evaluation and export "
        "stay float32",
        choices=PRECISIONS,
    )
    lexical: str = option(
        "never",
        "a TF-IDF n-gram + linear SVM companion per head whose decision values join the logits at a weight "
        "chosen on validation (services/trainer/lexical.py): auto keeps it where validation gains and "
        "still leaves some tickets wrong to fit the temperature and the rejection rule on (the Banking77 "
        "recipe: test accuracy 93.31 → 93.96), never leaves it out. Not the default yet: on the demo "
        "tickets the sentiment and priority companions hold a long mixed ticket to its majority words "
        "(docs/models.md)",
        choices=LEXICAL_CHOICES,
    )

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
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.contrastive not in CONTRASTIVE_CHOICES:
            raise ValueError(f"contrastive must be one of {CONTRASTIVE_CHOICES}, not {self.contrastive!r}")
        if self.contrastive_runs < 1:
            raise ValueError(f"contrastive_runs must be at least 1, not {self.contrastive_runs}")
        if self.contrastive_loss not in CONTRASTIVE_LOSSES:
            raise ValueError(
                f"contrastive_loss must be one of {CONTRASTIVE_LOSSES}, not {self.contrastive_loss!r}"
            )
        if not 0.0 <= self.oos_reject_rate < 0.5:
            raise ValueError(f"oos_reject_rate is a share of tickets, 0 to 0.5, not {self.oos_reject_rate}")
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
