"""`helploop train-generator`: base weights → (fine-tune) → KV-cache ONNX export → parity → publish."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.export import ExportParityError
from services.trainer.generation.base import DEFAULT_GENERATOR_BASE, converted_dir, generator_base
from services.trainer.generation.data import ReplyExample, with_neighbour_replies
from services.trainer.generation.train import GeneratorTrainConfig, fine_tune_generator
from shared.drafting.prompt import Passage, build_prompt
from shared.registry import Registry, new_version_id
from shared.runtime.encoder import SentenceEncoder
from shared.runtime.generator import GenerationConfig, OnnxGenerator

log = logging.getLogger(__name__)
PARITY_PROMPT = build_prompt(
    ticket="My parcel NW-12345 has not arrived after 9 days. Where is it?",
    intent="where_is_my_order",
    passages=[
        Passage("late", "Late parcels", "A parcel is late 7 working days after dispatch; we then trace it.")
    ],
)


def nearest(encoder: SentenceEncoder, queries: list[str], pool: list[str], k: int = 3) -> list[list[int]]:
    """Indices of the `k` most similar pool texts for each query (cosine of normalised embeddings)."""
    pool_vectors = encoder.embed_queries(pool)  # ticket to ticket: symmetric, both as queries
    query_vectors = pool_vectors if queries == pool else encoder.embed_queries(queries)  # each text once
    ranked = []
    for start in range(0, len(queries), 256):
        scores = query_vectors[start : start + 256] @ pool_vectors.T
        ranked.extend(np.argsort(-scores, axis=1)[:, :k].tolist())
    return ranked


def add_context(encoder: SentenceEncoder, train: list[ReplyExample]) -> list[ReplyExample]:
    """Each training example gets the reply to its nearest other training ticket as context."""
    tickets = [e.ticket for e in train]
    return with_neighbour_replies(train, train, nearest(encoder, tickets, tickets), skip_self=True)


def check_generator_parity(model: Any, tokenizer: Any, bundle: Path, *, tokens: int = 24) -> None:
    """Greedy tokens from onnxruntime (with and without the KV cache) must equal PyTorch's."""
    import torch

    inputs = tokenizer(PARITY_PROMPT, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=tokens, do_sample=False, repetition_penalty=1.1)
    expected = out[0, inputs["input_ids"].shape[1] :].tolist()
    runtime = OnnxGenerator(bundle, version="parity-check")
    config = GenerationConfig(max_new_tokens=tokens, repetition_penalty=1.1)
    cached = runtime.generate([PARITY_PROMPT], config)[0].token_ids
    uncached = runtime.generate([PARITY_PROMPT], config, use_cache=False)[0].token_ids
    eos = runtime.eos_ids
    expected = [t for t in expected if t not in eos]
    if cached != expected[: len(cached)] or cached != uncached:
        raise ExportParityError(
            f"ONNX greedy tokens {cached} differ from PyTorch {expected} / no-cache {uncached}"
        )
    log.info("generator parity: %d greedy tokens identical (PyTorch, ONNX, ONNX without cache)", len(cached))


def written_languages(examples: list[ReplyExample], *, min_share: float = 0.05) -> list[str]:
    """The languages a fine-tuned generator was taught to write: those of at least `min_share` of its
    training replies (by the serving language detector), most frequent first."""
    from collections import Counter

    from shared.runtime.language import detect_language

    counts = Counter(detect_language(e.reply).language for e in examples)
    counts.pop(None, None)
    total = sum(counts.values()) or 1
    return [language for language, n in counts.most_common() if n / total >= min_share]


def _trimmed(
    model: Any, tokenizer: Any, examples: list[ReplyExample], config: GeneratorTrainConfig
) -> tuple[Any, dict[str, Any]]:
    """Trim a large BPE vocabulary to the examples' tokens and scripts before fine-tuning (in place);
    returns the tokenizer to train and export with, and the trim report for the manifest."""
    import json

    from services.trainer.generation.train import encode_example
    from services.trainer.generation.vocab_trim import is_trimmable, trim_generator

    if not config.vocabulary_keep_top or not hasattr(tokenizer, "backend_tokenizer"):
        return tokenizer, {}
    if not is_trimmable(json.loads(tokenizer.backend_tokenizer.to_str())):
        return tokenizer, {}
    token_ids = [encode_example(tokenizer, e, config.max_length)[0] for e in examples]
    texts = [f"{e.ticket}\n{e.reply}" for e in examples]
    trimmed, report = trim_generator(model, tokenizer, token_ids, texts, keep_top=config.vocabulary_keep_top)
    return trimmed, {"vocabulary_trim": report.to_json()}


def _fingerprint(examples: list[ReplyExample]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(f"{e.ticket}\x00{e.reply}\x00{e.intent}\n".encode())
    return digest.hexdigest()


def _base_record(pinned: Any, directory: Path) -> dict[str, Any]:
    return {
        "name": pinned.name,
        "packages": list(pinned.packages),
        "gguf_sha256": pinned.sha256,
        "licence": pinned.licence,
        "dir": str(directory),
    }


def _fine_tune(
    model: Any,
    tokenizer: Any,
    examples: list[ReplyExample],
    config: GeneratorTrainConfig,
    encoder: SentenceEncoder | None,
) -> tuple[Any, dict[str, Any]]:
    """Fine-tune `model` in place (after trimming its vocabulary where the config asks); the tokenizer to
    export and the training record for the manifest."""
    if encoder is not None:
        examples = add_context(encoder, examples)
    tokenizer, training = _trimmed(model, tokenizer, examples, config)
    training.update(fine_tune_generator(model, tokenizer, examples, config))
    training = {**training, "loss_history": training["loss_history"][-50:], "examples": len(examples)}
    training["data_sha256"] = _fingerprint(examples)
    return tokenizer, training


def build_generator(
    *,
    registry: Registry,
    cache_dir: Path,
    examples: list[ReplyExample] | None,
    config: GeneratorTrainConfig,
    encoder: SentenceEncoder | None = None,
    base_dir: Path | None = None,
    activate: bool = True,
    attention: str = "onnx",
    manifest_extra: dict[str, Any] | None = None,
    base: str = DEFAULT_GENERATOR_BASE,
) -> str:
    """Publish a generator bundle (fine-tuned when `examples` are given, else the base model);
    `base`: one of services.trainer.generation.base.GENERATOR_BASES (ignored with `base_dir`);
    `manifest_extra` records the lineage (what the nightly retrain regenerates its base data from)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from services.trainer.generation.export import write_generator_bundle

    pinned = generator_base(base)
    directory = converted_dir(cache_dir, base_dir, base=base)
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.float32)
    training: dict[str, Any] = {}
    if examples:
        tokenizer, training = _fine_tune(model, tokenizer, examples, config, encoder)
    model.eval()
    with registry.staging() as staging:
        languages = written_languages(examples) if examples else list(pinned.languages)
        write_generator_bundle(
            model, tokenizer, staging, attention=attention, fine_tuned=bool(examples), languages=languages
        )
        check_generator_parity(model, tokenizer, staging)
        version = f"{new_version_id()}-{'ft' if examples else 'base'}"
        manifest = {
            "task": "text-generation",
            "base_model": _base_record(pinned, directory),
            "training_config": config.to_json() if examples else None,
            "training": training,
            "attention": attention,
            **(manifest_extra or {}),
        }
        registry.publish(staging, version=version, manifest=manifest)
    if activate:
        registry.activate(version)
    return version
