"""The generator's fine-tuning options (no torch here: the CLI generates `helploop train-generator`'s flags
from these fields at start-up)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.trainer.config import option
from services.trainer.precision import PRECISIONS


@dataclass(frozen=True)
class GeneratorTrainConfig:
    """Fine-tuning options; each field's help is its `helploop train-generator --flag` (generated)."""

    learning_rate: float = option(5e-5, "peak learning rate (AdamW, warm-up then cosine decay)")
    batch_size: int = option(4, "examples per optimizer step")
    epochs: float = option(1.0, "passes over the examples (fractions allowed)")
    max_steps: int | None = option(doc="stop after this many optimizer steps (quick runs)")
    max_length: int = option(512, "tokens per example; a long prompt loses its beginning, never the reply")
    warmup_ratio: float = option(0.05, "fraction of the steps spent warming the learning rate up")
    weight_decay: float = option(0.0, "AdamW weight decay")
    seed: int = option(13, "random seed (order of the examples)")
    train_layers: int | None = option(
        doc="train only the top N decoder layers and the final norm (default: all); the backward pass then "
        "stops there: about 2.5x faster steps on CPU; make run uses 8 of Qwen2.5-0.5B's 24"
    )
    precision: str = option(
        "auto",
        "the training steps' arithmetic: auto runs them in bfloat16 autocast where the CPU has native "
        "bfloat16 (AVX512_BF16 or AMX), else float32; weights and export stay float32",
        choices=PRECISIONS,
    )
    vocabulary_keep_top: int | None = option(
        12_000,
        "qwen2.5-0.5b: trim its 151,936-token vocabulary to the tokens of the training examples, every "
        "single character and the N earliest merges of their scripts (0 keeps it whole; "
        "services/trainer/generation/vocab_trim.py). Training texts tokenize exactly as before; a smaller, "
        "faster model and tokenizer",
    )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
