"""Baselines beside every evaluation report, and the side-by-side comparison with the fine-tuned model.

Two baselines, both trained on the examples the fine-tuned model trained on (its training file less the
validation split the trainer held out) and scored on the same test examples:
- zero-shot nearest label centroid of pretrained sentence embeddings ("before fine-tuning");
- TF-IDF word + character n-grams and a linear SVM (`services.trainer.linear_baseline`), the classic
  model a team would otherwise use.
A baseline that cannot be built never fails the evaluation: the report says why instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.data import DataError, Example, length_order, load_examples, stratified_split
from services.trainer.evaluate import score_predictions

log = logging.getLogger(__name__)
CENTROID_METHOD = "nearest centroid of mean-pooled pretrained embeddings (zero-shot, before fine-tuning)"
SYSTEMS = ("fine_tuned", "centroid", "tfidf")
SKIPPED = {"centroid": "skipped (--no-baseline)", "tfidf": "skipped (--no-tfidf-baseline)"}


def embed(
    model: Any, tokenizer: Any, texts: list[str], *, max_length: int, batch_size: int = 64
) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings (the sentence-transformers recipe of the MiniLM encoder)."""
    import torch

    model.eval()
    chunks = []
    order = length_order(tokenizer, texts, max_length=max_length)  # batches of similar length
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            inputs = tokenizer(
                [texts[i] for i in order[start : start + batch_size]],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(chunks)[np.argsort(order)]


def centroid_baseline(
    base_dir: str,
    train: list[Example],
    test: list[Example],
    *,
    max_length: int,
    languages: list[str] | None = None,
) -> dict[str, Any]:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir, add_pooling_layer=False)
    log.info("zero-shot baseline: embedding %d train and %d test texts", len(train), len(test))
    train_vectors = embed(model, tokenizer, [e.text for e in train], max_length=max_length)
    test_vectors = embed(model, tokenizer, [e.text for e in test], max_length=max_length)
    heads: dict[str, Any] = {}
    for head in sorted({h for e in test for h in e.labels}):
        labels = sorted({e.labels[head] for e in train if head in e.labels})
        if not labels:
            heads[head] = {"unavailable": f"no training example has a {head!r} label"}
            continue
        centroids = np.stack(
            [
                train_vectors[[i for i, e in enumerate(train) if e.labels.get(head) == lb]].mean(0)
                for lb in labels
            ]
        )
        rows = [i for i, e in enumerate(test) if head in e.labels]
        predicted = [labels[j] for j in (test_vectors[rows] @ centroids.T).argmax(axis=1)]
        gold = [test[i].labels[head] for i in rows]
        heads[head] = score_predictions(gold, predicted, [languages[i] for i in rows] if languages else None)
    return {"method": CENTROID_METHOD, "train_examples": len(train), "heads": heads}


def training_split(config: dict[str, Any]) -> tuple[list[Example], str]:
    """The examples the fine-tuned model trained on, from its manifest's training config (what
    `pipeline.load_splits` did), and a sentence saying which they are."""
    train_file = Path(config.get("train_file") or "")
    if not config.get("train_file") or not train_file.is_file():
        raise FileNotFoundError(f"the model's training file {str(train_file)!r} is not readable here")
    columns = config.get("head_columns") or {"intent": config.get("label_column", "label")}
    examples = load_examples(train_file, text_column=config.get("text_column", "text"), head_columns=columns)
    if config.get("valid_file"):
        return examples, f"all {len(examples)} examples of {train_file} (validation: {config['valid_file']})"
    fraction, seed = config.get("valid_fraction", 0.15), config.get("seed", 13)
    train, _ = stratified_split(examples, valid_fraction=fraction, seed=seed)
    return train, (
        f"{len(train)} of the {len(examples)} examples of {train_file}: the trainer's split, less its "
        f"stratified validation share {fraction:g} (seed {seed})"
    )


def _guarded(name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one baseline; any failure becomes {"unavailable": reason} in the report."""
    try:
        return build()
    except ImportError as exc:
        reason = f"{exc} (install the train extra: pip install -e '.[train]')"
    except (ValueError, OSError, DataError) as exc:  # a reason in words: no file, no labels, …
        reason = str(exc)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
    log.warning("%s baseline not available: %s", name, reason)
    return {"unavailable": reason}


def run_baselines(
    *,
    config: dict[str, Any],
    test: list[Example],
    languages: list[str] | None,
    base_dir: str | None,
    max_length: int,
    centroid: bool = True,
    tfidf: bool = True,
) -> dict[str, Any]:
    """{"baseline": centroid result, "tfidf_baseline": TF-IDF result}, each possibly {"unavailable": …}."""
    split: dict[str, Any] = {}

    def train() -> list[Example]:
        if "examples" not in split:
            split["examples"], split["description"] = training_split(config)
        return split["examples"]

    def build_tfidf() -> dict[str, Any]:
        from services.trainer.linear_baseline import tfidf_baseline

        return {**tfidf_baseline(train(), test, languages=languages), "train_split": split["description"]}

    def build_centroid() -> dict[str, Any]:
        if not base_dir:
            raise ValueError("the manifest names no base model, or one not on this machine")
        result = centroid_baseline(base_dir, train(), test, max_length=max_length, languages=languages)
        return {**result, "train_split": split["description"]}

    tfidf_result = _guarded("TF-IDF", build_tfidf) if tfidf else {"unavailable": SKIPPED["tfidf"]}
    tfidf_result.setdefault("method", "TF-IDF word + character n-grams, linear SVM")
    centroid_result = (
        _guarded("centroid", build_centroid) if centroid else {"unavailable": SKIPPED["centroid"]}
    )
    centroid_result.setdefault("method", CENTROID_METHOD)
    return {"baseline": centroid_result, "tfidf_baseline": tfidf_result}


def _cell(result: dict[str, Any] | None, head: str, language: str | None = None) -> dict[str, Any]:
    """{"accuracy", "macro_f1"} of one system for a head (and language), or {"unavailable": reason}."""
    if result is None:
        return {"unavailable": "not run"}
    if "unavailable" in result:
        return {"unavailable": result["unavailable"]}
    scored = result.get("heads", result).get(head)
    if scored is None or "unavailable" in scored:
        return {"unavailable": (scored or {}).get("unavailable", f"no {head!r} result")}
    if language is not None:
        scored = scored.get("by_language", {}).get(language)
        if scored is None:
            return {"unavailable": f"no {language!r} result"}
    return {"accuracy": scored["accuracy"], "macro_f1": scored["macro_f1"]}


def _row(systems: dict[str, dict[str, Any] | None], head: str, language: str | None) -> dict[str, Any]:
    row = {name: _cell(result, head, language) for name, result in systems.items()}
    tuned, tfidf = row["fine_tuned"], row["tfidf"]
    if "accuracy" in tuned and "accuracy" in tfidf:
        row["fine_tuned_minus_tfidf"] = {k: tuned[k] - tfidf[k] for k in ("accuracy", "macro_f1")}
    return row


def side_by_side(
    model_eval: dict[str, Any], centroid: dict[str, Any] | None, tfidf: dict[str, Any] | None
) -> dict[str, Any]:
    """Per head (and per language): accuracy and macro-F1 of the fine-tuned model (argmax, as the
    baselines: no rejection rule), of each baseline, and the fine-tuned model minus the TF-IDF one."""
    systems = {"fine_tuned": model_eval, "centroid": centroid, "tfidf": tfidf}
    heads = {}
    for name, head in model_eval["heads"].items():
        heads[name] = {"examples": head["examples"], **_row(systems, name, None)}
        heads[name]["by_language"] = {
            language: {"examples": scored["examples"], **_row(systems, name, language)}
            for language, scored in head.get("by_language", {}).items()
        }
    return {"systems": list(SYSTEMS), "heads": heads}
