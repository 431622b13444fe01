"""The base encoder a training run starts from: resolved by name or directory, its vocabulary trimmed to the
languages of the training data (`vocab_trim`), and the effect of that trimming measured on validation."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.base_model import BaseModel, resolve_base_model
from services.trainer.config import TrainConfig
from services.trainer.data import Example
from services.trainer.vocab_trim import TrimReport, is_trimmable, trim_vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedBase:
    base: BaseModel
    model_dir: Path  # what fine-tuning loads: the base itself, or its trimmed copy
    trim: TrimReport | None

    def manifest(self) -> dict[str, Any]:
        trim = self.trim.to_json() if self.trim else None
        return {**self.base.to_json(), "vocabulary_trim": trim}


def prepare_base(
    config: TrainConfig, train: list[Example], *, cache_dir: Path, workdir: Path
) -> PreparedBase:
    """Resolve `config.base_model`; trim a large unigram vocabulary to the pieces of the training texts plus
    the most probable pieces of their scripts (into `workdir`). Validation texts are left out of the
    trimming corpus, so `trim_effect` on them measures what trimming costs on new tickets."""
    from services.trainer.pipeline import training_languages

    languages = training_languages(train)
    base = resolve_base_model(config.base_model, cache_dir=cache_dir, languages=languages)
    log.info(
        "base model %s (asked: %s; training languages %s; %s) from %s",
        base.name,
        config.base_model,
        ",".join(languages) or "unknown",
        base.tokenizer,
        base.directory,
    )
    if not (config.trim_vocabulary and is_trimmable(base.directory)):
        return PreparedBase(base, base.directory, None)
    texts = [e.text for e in train]
    report = trim_vocabulary(base.directory, workdir, texts, keep_top=config.vocabulary_keep_top)
    return PreparedBase(base, workdir, report)


def untrimmed_copy(model: Any, base_dir: Path, kept: list[int]) -> Any:
    """The fine-tuned classifier with the base's full embedding table (its trained rows put back in place):
    the model a run without trimming would have trained, since only the corpus's pieces get gradients."""
    import torch
    from transformers import AutoModel

    full = AutoModel.from_pretrained(str(base_dir), add_pooling_layer=False).get_input_embeddings()
    table = full.weight.data.clone()
    table[torch.tensor(kept)] = model.encoder.get_input_embeddings().weight.data
    expanded = copy.deepcopy(model)
    pad = model.encoder.config.pad_token_id
    expanded.encoder.set_input_embeddings(torch.nn.Embedding.from_pretrained(table, padding_idx=pad))
    return expanded


def trim_effect(
    outcome: Any,
    prepared: PreparedBase,
    examples: list[Example],
    config: TrainConfig,
    *,
    after: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """Primary-head accuracy on held-out `examples` with the full and the trimmed vocabulary, and how many
    predictions differ (none can for texts of the trimming corpus: their segmentation is unchanged).
    `after`: the trimmed model's primary-head logits on `examples` where already computed."""
    from transformers import AutoTokenizer

    from services.trainer.train import IGNORE, gold_ids, predict_logits

    if prepared.trim is None or not examples:
        return None
    head, texts = config.primary_head, [e.text for e in examples]
    full_tokenizer = AutoTokenizer.from_pretrained(str(prepared.base.directory))
    expanded = untrimmed_copy(outcome.model, prepared.base.directory, prepared.trim.kept)
    before = predict_logits(expanded, full_tokenizer, texts, config.max_length)[head]
    if after is None:
        after = predict_logits(outcome.model, outcome.tokenizer, texts, config.max_length)[head]
    gold = gold_ids(examples, head, outcome.head_labels[head])
    known = gold != IGNORE
    result = {
        "examples": len(texts),
        "accuracy_full_vocabulary": float((before.argmax(-1) == gold)[known].mean()),
        "accuracy_trimmed": float((after.argmax(-1) == gold)[known].mean()),
        "predictions_changed": int((before.argmax(-1) != after.argmax(-1)).sum()),
        "max_abs_logit_diff": float(np.abs(before - after).max()),
    }
    log.info("vocabulary trimming on %d validation texts: %s", len(texts), result)
    return result
