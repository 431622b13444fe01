"""Fine-tune the multi-head classifier: build, train with masked per-head losses, early stopping, evaluate."""

from __future__ import annotations

import copy
import logging
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from services.trainer.config import TrainConfig
from services.trainer.data import Example, length_order
from services.trainer.losses import IGNORE, class_weights, step_loss
from services.trainer.metrics import accuracy, macro_f1
from services.trainer.model import MultiHeadClassifier, WithEmbedding, apply_freeze, build_classifier
from services.trainer.optim import adamw
from services.trainer.outliers import pseudo_outlier_index, with_pseudo_outliers
from services.trainer.precision import resolve_precision, training_autocast

log = logging.getLogger(__name__)
EMBEDDING = "sentence_embedding"  # the pooled sentence embedding, beside the heads' logits


@dataclass
class TrainOutcome:
    model: MultiHeadClassifier
    tokenizer: Any
    head_labels: dict[str, list[str]]
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    few_shot: dict[str, Any] = field(default_factory=dict)  # the contrastive stage: ran or not, and why
    precision: str = "fp32"  # the training steps' arithmetic (services/trainer/precision.py)
    # the served weights' outputs on the validation split (every head's logits and EMBEDDING), computed when
    # the best epoch was evaluated: calibration and the vocabulary-trim check read them instead of predicting
    valid_outputs: dict[str, np.ndarray] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def head_label_sets(examples: list[Example], head_names: list[str]) -> dict[str, list[str]]:
    """Sorted labels per head, as seen in the data; heads with no labels at all are dropped."""
    sets = {name: sorted({e.labels[name] for e in examples if name in e.labels}) for name in head_names}
    return {name: labels for name, labels in sets.items() if labels}


def _batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    order = examples[:]
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def length_grouped_batches(
    examples: list[Example], batch_size: int, rng: random.Random, group_factor: int = 50
) -> list[list[Example]]:
    """Shuffle, sort by length inside mega-batches of `group_factor` batches, shuffle the batch order:
    batches of similar lengths need far less padding (transformers' group_by_length)."""
    order = examples[:]
    rng.shuffle(order)
    mega = batch_size * group_factor
    batches = []
    for start in range(0, len(order), mega):
        group = sorted(order[start : start + mega], key=lambda e: len(e.text), reverse=True)
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return batches


def encode(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and token_type_ids (zeros for tokenizers without segments, e.g. XLM-R's:
    every exported graph takes the same three inputs)."""
    return tokenizer(
        texts,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        return_token_type_ids=True,
    )


def _targets(batch: list[Example], head_labels: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    index = {head: {label: i for i, label in enumerate(labels)} for head, labels in head_labels.items()}
    return {
        head: torch.tensor([index[head].get(e.labels.get(head, ""), IGNORE) for e in batch])
        for head in head_labels
    }


@torch.no_grad()
def predict_outputs(
    model: MultiHeadClassifier, tokenizer: Any, texts: list[str], max_length: int, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Logits per head name plus the pooled embeddings under EMBEDDING, in eval mode, in the order of
    `texts` (computed in batches of similar length: `length_order`)."""
    model.eval()
    names = [*model.head_names, EMBEDDING]
    order = length_order(tokenizer, texts, max_length=max_length)
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(texts), batch_size):
        batch = [texts[i] for i in order[start : start + batch_size]]
        outputs = WithEmbedding(model)(**encode(tokenizer, batch, max_length))
        for name, tensor in zip(names, outputs, strict=True):
            chunks[name].append(tensor.numpy())
    back = np.argsort(order)  # row i of the sorted outputs belongs to texts[order[i]]
    return {name: np.concatenate(parts)[back] for name, parts in chunks.items() if parts}


def predict_logits(
    model: MultiHeadClassifier, tokenizer: Any, texts: list[str], max_length: int, batch_size: int = 64
) -> dict[str, np.ndarray]:
    outputs = predict_outputs(model, tokenizer, texts, max_length, batch_size)
    outputs.pop(EMBEDDING, None)
    return outputs


def gold_ids(examples: list[Example], head: str, labels: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index.get(e.labels.get(head, ""), IGNORE) for e in examples])


def head_scores(logits: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Loss, accuracy and macro-F1 over the examples that have a label for this head."""
    known = gold != IGNORE
    logits, gold = logits[known], gold[known]
    if not len(gold):
        return {}
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(gold)))
    pred = logits.argmax(-1)
    return {"loss": loss, "accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred, logits.shape[1])}


def evaluate(
    model: MultiHeadClassifier,
    tokenizer: Any,
    examples: list[Example],
    head_labels: dict[str, list[str]],
    config: TrainConfig,
    keep: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Per-head scores, plus the mean over heads at the top level (what early stopping watches); `keep`
    receives the outputs scored (every head's logits and EMBEDDING)."""
    logits = predict_outputs(model, tokenizer, [e.text for e in examples], config.max_length)
    if keep is not None:
        keep.clear()
        keep.update(logits)
    per_head = {
        head: head_scores(logits[head], gold_ids(examples, head, labels))
        for head, labels in head_labels.items()
    }
    per_head = {head: scores for head, scores in per_head.items() if scores}
    summary = {
        key: float(np.mean([s[key] for s in per_head.values()])) for key in ("loss", "accuracy", "macro_f1")
    }
    return {**summary, "heads": per_head}


class EarlyStopping:
    """Tracks the best epoch by `metric` (lower is better for loss, higher otherwise) and its weights."""

    def __init__(self, metric: str, patience: int) -> None:
        self.metric, self.patience = metric, patience
        self.best_score: float | None = None
        self.best_state: dict[str, Any] | None = None
        self.best_scores: dict[str, Any] = {}
        self.best_outputs: dict[str, np.ndarray] = {}
        self.stale = 0

    def _improved(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score < self.best_score if self.metric == "loss" else score > self.best_score

    def update(
        self, model: Any, scores: dict[str, Any], outputs: dict[str, np.ndarray] | None = None
    ) -> bool:
        """Record an epoch (with the validation outputs it was scored on); True when training should stop."""
        score = scores[self.metric]
        if self._improved(score):
            self.best_score, self.best_scores, self.stale = score, dict(scores), 0
            self.best_state = copy.deepcopy(model.state_dict())
            self.best_outputs = dict(outputs or {})
        else:
            self.stale += 1
        return self.stale >= self.patience


def batches_for(train: list[Example], config: TrainConfig, rng: random.Random) -> list[list[Example]]:
    if config.group_by_length:
        return length_grouped_batches(train, config.batch_size, rng)
    return _batches(train, config.batch_size, rng)


def _train_epoch(
    model: MultiHeadClassifier,
    tokenizer: Any,
    train: list[Example],
    config: TrainConfig,
    state: dict[str, Any],
) -> float:
    model.train()
    losses = []
    for batch in tqdm(
        batches_for(train, config, state["rng"]),
        desc=f"epoch {state['epoch']}",
        file=sys.stderr,
        leave=False,
    ):
        if config.max_steps is not None and state["steps"] >= config.max_steps:
            break
        with training_autocast(config.precision):
            pooled = model.pool(**encode(tokenizer, [e.text for e in batch], config.max_length))
            targets = _targets(batch, state["head_labels"])
            loss = step_loss(model, model.classify(pooled), targets, state["weights"], config.label_smoothing)
            if state["pseudo_oos"] is not None:
                loss = with_pseudo_outliers(loss, model, pooled, targets, config, state)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        state["optimizer"].step()
        state["scheduler"].step()
        state["optimizer"].zero_grad()
        state["steps"] += 1
        losses.append(loss.item())
        if state["writer"] is not None:
            state["writer"].add_scalar("train/loss", losses[-1], state["steps"])
    return float(np.mean(losses)) if losses else float("nan")


def _total_steps(config: TrainConfig, n_train: int) -> int:
    per_epoch = -(-n_train // config.batch_size)
    total = per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps is not None else total


def _setup(
    config: TrainConfig,
    model_dir: str,
    head_labels: dict[str, list[str]],
    train: list[Example],
    log_dir: Path | None,
) -> tuple[MultiHeadClassifier, Any, dict[str, Any]]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = build_classifier(
        model_dir, {h: len(labels) for h, labels in head_labels.items()}, dropout=config.dropout
    )
    apply_freeze(model, config.freeze)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = adamw(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    total = max(1, _total_steps(config, len(train)))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_ratio), total)
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(log_dir))
    state = {
        "rng": random.Random(config.seed),
        "optimizer": optimizer,
        "scheduler": scheduler,
        "steps": 0,
        "head_labels": head_labels,
        "weights": class_weights(train, head_labels, config.class_weighting),
        "pseudo_oos": pseudo_outlier_index(config, head_labels),  # services/trainer/outliers.py
        "generator": torch.Generator().manual_seed(config.seed),
        "writer": writer,
    }
    return model, tokenizer, state


def _log_epoch(state: dict[str, Any], epoch: int, train_loss: float, scores: dict[str, Any]) -> None:
    log.info(
        "epoch %d: train loss %.4f, validation loss %.4f, accuracy %.4f, macro-F1 %.4f",
        epoch,
        train_loss,
        scores.get("loss", float("nan")),
        scores.get("accuracy", 0.0),
        scores.get("macro_f1", 0.0),
    )
    writer = state["writer"]
    if writer is None:
        return
    writer.add_scalar("train/epoch_loss", train_loss, epoch)
    for head, values in scores.get("heads", {}).items():
        for key, value in values.items():
            writer.add_scalar(f"validation/{head}/{key}", value, epoch)
    writer.flush()


def _few_shot_stage(
    model: MultiHeadClassifier,
    tokenizer: Any,
    train: list[Example],
    config: TrainConfig,
    head_labels: dict[str, list[str]],
) -> dict[str, Any]:
    """With few examples per label: the contrastive stage, then heads fitted on its frozen embeddings."""
    from services.trainer.contrastive import contrastive_soup, fit_heads, should_run

    run, reason = should_run(config, train)
    log.info("contrastive stage: %s (%s)", "runs" if run else "skipped", reason)
    if not run:
        return {"ran": False, "reason": reason}
    report = contrastive_soup(model, tokenizer, train, config)
    report["head_train_accuracy"] = fit_heads(model, tokenizer, train, head_labels, config)
    return {"ran": True, "reason": reason, **report}


def fine_tune(
    config: TrainConfig,
    model_dir: str,
    train: list[Example],
    valid: list[Example],
    *,
    log_dir: Path | None = None,
) -> TrainOutcome:
    """AdamW with linear warm-up/decay; early stopping keeps the weights of the best validation epoch."""
    seed_everything(config.seed)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    head_labels = head_label_sets(train + valid, list(config.head_columns))
    model, tokenizer, state = _setup(config, model_dir, head_labels, train, log_dir)
    few_shot = _few_shot_stage(model, tokenizer, train, config, head_labels)
    outcome = TrainOutcome(model, tokenizer, head_labels, few_shot=few_shot)
    outcome.precision = resolve_precision(config.precision)
    if outcome.few_shot["ran"] and not config.contrastive_end_to_end:  # heads on the frozen stage's encoder
        kept = outcome.valid_outputs
        outcome.best = evaluate(model, tokenizer, valid, head_labels, config, keep=kept) if valid else {}
        outcome.history.append({"epoch": 0, "stage": "contrastive", **outcome.best})
        if state["writer"] is not None:
            state["writer"].close()
        model.eval()
        return outcome
    stopper = EarlyStopping(config.early_stopping_metric, config.patience)
    for epoch in range(1, config.epochs + 1):
        state["epoch"] = epoch
        train_loss = _train_epoch(model, tokenizer, train, config, state)
        outputs: dict[str, np.ndarray] = {}
        scores = evaluate(model, tokenizer, valid, head_labels, config, keep=outputs) if valid else {}
        outcome.history.append({"epoch": epoch, "train_loss": train_loss, **scores})
        _log_epoch(state, epoch, train_loss, scores)
        out_of_steps = config.max_steps is not None and state["steps"] >= config.max_steps
        if (scores and stopper.update(model, {"epoch": epoch, **scores}, outputs)) or out_of_steps:
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
        outcome.best, outcome.valid_outputs = stopper.best_scores, stopper.best_outputs
    if state["writer"] is not None:
        state["writer"].close()
    model.eval()
    outcome.steps = state["steps"]
    return outcome
