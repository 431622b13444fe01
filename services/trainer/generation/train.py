"""Fine-tune the generator on reply examples: full fine-tune, loss on the reply tokens only."""

from __future__ import annotations

import logging
import math
import random
import time
from typing import Any

import torch

from services.trainer.generation.data import ReplyExample
from services.trainer.generation.options import GeneratorTrainConfig
from services.trainer.optim import adamw
from services.trainer.precision import resolve_precision, training_autocast

log = logging.getLogger(__name__)
IGNORE = -100
END = "<|im_end|>"


def encode_example(tokenizer: Any, example: ReplyExample, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels: the prompt is context only (labels ignored), the reply + end marker is learned.
    Long prompts lose their beginning, never the reply."""
    prompt = example.prompt(training=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(example.reply.strip() + END, add_special_tokens=False)["input_ids"]
    reply_ids = reply_ids[: max_length // 2]
    prompt_ids = prompt_ids[-(max_length - len(reply_ids)) :]
    return prompt_ids + reply_ids, [IGNORE] * len(prompt_ids) + reply_ids


def collate(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, targets) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids)] = torch.tensor(targets)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def reply_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token cross-entropy on the reply tokens, projecting only those positions to the vocabulary
    (the prompt's ~70 % of positions never pay for the 49k-way output layer)."""
    hidden = model.get_decoder()(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def trainable_parameters(model: Any, train_layers: int | None) -> list[Any]:
    """Freeze all but the top `train_layers` decoder layers and the final norm (None: train everything;
    the tied embedding/output matrix is frozen whenever layers are)."""
    if train_layers is None:
        return list(model.parameters())
    decoder = model.get_decoder()
    layers = decoder.layers
    if not 0 < train_layers <= len(layers):
        raise ValueError(f"train_layers must be 1..{len(layers)}, not {train_layers}")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for module in [*layers[len(layers) - train_layers :], decoder.norm]:
        for parameter in module.parameters():
            parameter.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def _schedule(optimizer: Any, total: int, warmup: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        return max(0.0, 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fine_tune_generator(
    model: Any, tokenizer: Any, examples: list[ReplyExample], config: GeneratorTrainConfig
) -> dict[str, Any]:
    """Trains `model` in place; returns the loss history and timing."""
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    encoded = [encode_example(tokenizer, e, config.max_length) for e in examples]
    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = config.max_steps or max(1, int(steps_per_epoch * config.epochs))
    parameters = trainable_parameters(model, config.train_layers)
    optimizer = adamw(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = _schedule(optimizer, total, int(total * config.warmup_ratio))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    history, started, step = [], time.perf_counter(), 0
    while step < total:
        order = random.sample(range(len(encoded)), len(encoded))
        for start in range(0, len(order), config.batch_size):
            batch = collate([encoded[i] for i in order[start : start + config.batch_size]], pad_id)
            with training_autocast(config.precision):
                loss = reply_loss(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            history.append(loss.item())
            if step % 10 == 0 or step == total:
                recent = sum(history[-10:]) / len(history[-10:])
                log.info(
                    "step %d/%d: loss %.3f after %d s", step, total, recent, time.perf_counter() - started
                )
            if step >= total:
                break
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    seconds = round(time.perf_counter() - started, 1)
    precision = resolve_precision(config.precision)
    return {"steps": step, "loss_history": history, "train_seconds": seconds, "precision": precision}
