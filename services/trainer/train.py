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
def predict_ids(model: Any, tokenizer: Any, examples: list[Example], config: TrainConfig) -> np.ndarray:
    model.eval()
    predictions = []
    for batch in _batches(examples, 64, None):
        logits = model(**_encode(tokenizer, batch, config.max_length)).logits
        predictions.append(logits.argmax(-1).numpy())
    return np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)


def evaluate(
    model: Any, tokenizer: Any, examples: list[Example], labels: list[str], config: TrainConfig
) -> dict[str, float]:
    index = {label: i for i, label in enumerate(labels)}
    gold = np.array([index.get(e.label, -1) for e in examples])
    pred = predict_ids(model, tokenizer, examples, config)
    return {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred, len(labels))}


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


def fine_tune(
    config: TrainConfig, model_dir: str, train: list[Example], valid: list[Example]
) -> TrainOutcome:
    """AdamW with linear warm-up/decay; keeps the weights of the best validation macro-F1 epoch."""
    seed_everything(config.seed)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    labels = sorted({e.label for e in train} | {e.label for e in valid})
    model, tokenizer = build_model(config, model_dir, labels)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    total = max(1, _total_steps(config, len(train)))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_ratio), total)
    state = {"rng": random.Random(config.seed), "optimizer": optimizer, "scheduler": scheduler, "steps": 0}
    outcome = TrainOutcome(model, tokenizer, labels)
    best_state, best_f1, stale = None, -1.0, 0
    label_ids = {label: i for i, label in enumerate(labels)}
    for epoch in range(1, config.epochs + 1):
        state["epoch"] = epoch
        loss = _train_epoch(model, tokenizer, train, label_ids, config, state)
        scores = (
            evaluate(model, tokenizer, valid, labels, config) if valid else {"accuracy": 0.0, "macro_f1": 0.0}
        )
        outcome.history.append({"epoch": epoch, "train_loss": loss, **scores})
        log.info(
            "epoch %d: loss %.4f, valid accuracy %.4f, macro-F1 %.4f",
            epoch,
            loss,
            scores["accuracy"],
            scores["macro_f1"],
        )
        if scores["macro_f1"] > best_f1:
            best_f1, stale = scores["macro_f1"], 0
            best_state = copy.deepcopy(model.state_dict())
            outcome.best = {"epoch": epoch, **scores}
        else:
            stale += 1
        if stale >= config.patience or (config.max_steps is not None and state["steps"] >= config.max_steps):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    outcome.steps = state["steps"]
    return outcome
