"""Fine-tune the encoder for sequence classification: build, train with early stopping, evaluate."""

from __future__ import annotations

import copy
import logging
import random
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from services.trainer.config import TrainConfig
from services.trainer.data import Example
from services.trainer.metrics import accuracy, macro_f1

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    model: Any
    tokenizer: Any
    labels: list[str]
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    steps: int = 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(config: TrainConfig, model_dir: str, labels: list[str]) -> tuple[Any, Any]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    return model, tokenizer


def _batches(examples: list[Example], batch_size: int, rng: random.Random | None) -> list[list[Example]]:
    order = examples[:]
    if rng is not None:
        rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _encode(tokenizer: Any, batch: list[Example], max_length: int) -> dict[str, torch.Tensor]:
    return tokenizer(
        [e.text for e in batch], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )


@torch.no_grad()
def predict_logits(model: Any, tokenizer: Any, examples: list[Example], config: TrainConfig) -> np.ndarray:
    model.eval()
    chunks = [
        model(**_encode(tokenizer, batch, config.max_length)).logits.numpy()
        for batch in _batches(examples, 64, None)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def evaluate(
    model: Any, tokenizer: Any, examples: list[Example], labels: list[str], config: TrainConfig
) -> dict[str, float]:
    """Validation loss (mean cross-entropy), accuracy and macro-F1."""
    index = {label: i for i, label in enumerate(labels)}
    gold = np.array([index[e.label] for e in examples])
    logits = predict_logits(model, tokenizer, examples, config)
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(gold)))
    pred = logits.argmax(-1)
    return {"loss": loss, "accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred, len(labels))}


class EarlyStopping:
    """Tracks the best epoch by `metric` (lower is better for loss, higher otherwise) and its weights."""

    def __init__(self, metric: str, patience: int) -> None:
        self.metric, self.patience = metric, patience
        self.best_score: float | None = None
        self.best_state: dict[str, Any] | None = None
        self.best_scores: dict[str, float] = {}
        self.stale = 0

    def _improved(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score < self.best_score if self.metric == "loss" else score > self.best_score

    def update(self, model: Any, scores: dict[str, float]) -> bool:
        """Record an epoch; True when training should stop."""
        score = scores[self.metric]
        if self._improved(score):
            self.best_score, self.best_scores, self.stale = score, dict(scores), 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1
        return self.stale >= self.patience


def _train_epoch(
    model: Any,
    tokenizer: Any,
    train: list[Example],
    label_ids: dict[str, int],
    config: TrainConfig,
    state: dict[str, Any],
) -> float:
    model.train()
    losses = []
    batches = _batches(train, config.batch_size, state["rng"])
    for batch in tqdm(batches, desc=f"epoch {state['epoch']}", file=sys.stderr, leave=False):
        if config.max_steps is not None and state["steps"] >= config.max_steps:
            break
        inputs = _encode(tokenizer, batch, config.max_length)
        labels = torch.tensor([label_ids[e.label] for e in batch])
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        state["optimizer"].step()
        state["scheduler"].step()
        state["optimizer"].zero_grad()
        state["steps"] += 1
        losses.append(loss.item())
    return float(np.mean(losses)) if losses else float("nan")


def _total_steps(config: TrainConfig, n_train: int) -> int:
    per_epoch = -(-n_train // config.batch_size)
    total = per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps is not None else total


def _setup(config: TrainConfig, model_dir: str, labels: list[str], n_train: int) -> tuple[Any, Any, dict]:
    model, tokenizer = build_model(config, model_dir, labels)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    total = max(1, _total_steps(config, n_train))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_ratio), total)
    state = {"rng": random.Random(config.seed), "optimizer": optimizer, "scheduler": scheduler, "steps": 0}
    return model, tokenizer, state


def fine_tune(
    config: TrainConfig, model_dir: str, train: list[Example], valid: list[Example]
) -> TrainOutcome:
    """AdamW with linear warm-up/decay; early stopping keeps the weights of the best validation epoch."""
    seed_everything(config.seed)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    labels = sorted({e.label for e in train} | {e.label for e in valid})
    label_ids = {label: i for i, label in enumerate(labels)}
    model, tokenizer, state = _setup(config, model_dir, labels, len(train))
    outcome = TrainOutcome(model, tokenizer, labels)
    stopper = EarlyStopping(config.early_stopping_metric, config.patience)
    for epoch in range(1, config.epochs + 1):
        state["epoch"] = epoch
        train_loss = _train_epoch(model, tokenizer, train, label_ids, config, state)
        scores = evaluate(model, tokenizer, valid, labels, config) if valid else {}
        outcome.history.append({"epoch": epoch, "train_loss": train_loss, **scores})
        log.info(
            "epoch %d: train loss %.4f, validation %s",
            epoch,
            train_loss,
            {k: round(v, 4) for k, v in scores.items()},
        )
        out_of_steps = config.max_steps is not None and state["steps"] >= config.max_steps
        if (scores and stopper.update(model, {"epoch": epoch, **scores})) or out_of_steps:
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
        outcome.best = stopper.best_scores
    model.eval()
    outcome.steps = state["steps"]
    return outcome
