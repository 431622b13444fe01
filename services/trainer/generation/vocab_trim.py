"""Vocabulary trimming for a byte-level BPE generator (Qwen2.5's 151,936 embedding rows and output rows).

Qwen2.5-Coder's vocabulary serves code and some 29 languages; a team's generator writes one or two. Its
input embedding and its untied output layer are 2 × 136 M of the model's 630 M parameters, the tokenizer
alone takes ~80 MB of a worker's memory, and every training step projects each reply token onto all
151k rows. Trimming keeps the rows the generator needs (the technique of "Load What You Need", Abdaoui et
al. 2020, and of Ushio et al. 2023 for multilingual models, applied to a BPE vocabulary):

- the special tokens and the 256 byte tokens (so any text still tokenizes: an unseen character falls back
  to its UTF-8 bytes, as byte-level BPE always can),
- every token the training examples are encoded into (prompts and replies, exactly as fine-tuning reads
  them), and every single-character token of the training scripts,
- the `keep_top` earliest-merged tokens of each training script (plus digits and punctuation): BPE merges
  are learned most frequent first, so the lowest ranks are the general sample of that script,
- the merge ancestors of every kept token (BPE builds a token only through its merge pair).

Merges are filtered to those whose parts and result are kept, in their original order, so every text of the
training corpus is tokenized exactly as before (ids renumbered) and the trimmed model computes the same
scores for every kept token; other texts of those scripts lose at most some longer tokens.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.trainer.vocab_trim import LETTER, corpus_scripts, script_of, written_in

log = logging.getLogger(__name__)
TRIM_MIN_VOCAB = 100_000  # SmolLM2's 49k vocabulary is left as it is
DEFAULT_KEEP_TOP = 12_000


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (the alphabet of byte-level BPE)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {byte: chr(char) for byte, char in zip(printable, chars, strict=True)}


BYTE_CHARS = _bytes_to_unicode()
CHAR_BYTES = {char: byte for byte, char in BYTE_CHARS.items()}


@dataclass(frozen=True)
class GeneratorTrimReport:
    tokens_before: int  # the model's embedding rows
    tokens_after: int
    scripts: list[str]
    corpus_tokens: int  # distinct tokens the training examples use
    keep_top: int
    parameters_before: int
    parameters_after: int
    kept: list[int] = field(default_factory=list, repr=False)  # old ids, ascending (new id = index)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "kept"}


def is_trimmable(tokenizer_json: dict[str, Any]) -> bool:
    model = tokenizer_json.get("model", {})
    return model.get("type") == "BPE" and len(model.get("vocab", {})) >= TRIM_MIN_VOCAB


def token_text(token: str) -> str | None:
    """The text a byte-level token stands for; None for a token that is part of a UTF-8 sequence."""
    try:
        return bytes(CHAR_BYTES[char] for char in token).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None


def _merge_parents(merges: list[Any]) -> dict[str, list[str]]:
    """Each merged token -> the parts of every merge that builds it (a trained BPE may have several)."""
    parents: dict[str, list[str]] = {}
    for merge in merges:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        parents.setdefault(left + right, []).extend((left, right))
    return parents


def kept_ids(spec: dict[str, Any], *, used: set[int], scripts: set[str], keep_top: int) -> list[int]:
    """Old ids to keep, ascending; see the module docstring for what is kept and why."""
    vocab: dict[str, int] = spec["model"]["vocab"]
    keep = set(used) | {token["id"] for token in spec.get("added_tokens", [])}
    keep |= {vocab[char] for char in BYTE_CHARS.values() if char in vocab}
    by_script: dict[str, list[int]] = {}
    for token, i in vocab.items():
        text = token_text(token)
        if i in keep or text is None or not written_in(text, scripts):
            continue
        if len(text.strip()) == 1:
            keep.add(i)
            continue
        letters = LETTER.findall(text)
        by_script.setdefault(script_of(letters[0]) if letters else "common", []).append(i)
    for candidates in by_script.values():  # each script its own quota: Latin does not crowd out Han
        keep |= set(sorted(candidates)[:keep_top])
    token_of = {i: token for token, i in vocab.items()}
    parents = _merge_parents(spec["model"]["merges"])
    pending = [token_of[i] for i in keep if i in token_of]
    while pending:
        for part in parents.get(pending.pop(), ()):
            if vocab[part] not in keep:
                keep.add(vocab[part])
                pending.append(part)
    return sorted(keep)


def trimmed_tokenizer_json(spec: dict[str, Any], keep: list[int]) -> dict[str, Any]:
    """The same pipeline over the kept tokens: vocabulary renumbered, merges of kept tokens only (in their
    original order, so ranks keep their relative order), special tokens renumbered."""
    new_id = {old: new for new, old in enumerate(keep)}
    spec = json.loads(json.dumps(spec))
    model = spec["model"]
    model["vocab"] = {token: new_id[i] for token, i in model["vocab"].items() if i in new_id}
    kept_tokens = model["vocab"]
    merges = []
    for merge in model["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        if left in kept_tokens and right in kept_tokens and left + right in kept_tokens:
            merges.append(merge)
    model["merges"] = merges
    spec["added_tokens"] = [
        {**token, "id": new_id[token["id"]]}
        for token in spec.get("added_tokens", [])
        if token["id"] in new_id
    ]
    for token in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        token["ids"] = [new_id[i] for i in token["ids"]]
    return spec


def _trim_rows(model: Any, keep: list[int]) -> None:
    """Embedding and output rows of the kept ids; a tied output layer stays tied."""
    import torch

    index = torch.tensor(keep)
    embedding = model.get_input_embeddings()
    rows = embedding.weight.data[index].clone()
    model.set_input_embeddings(torch.nn.Embedding.from_pretrained(rows, freeze=False))
    head = model.get_output_embeddings()
    if getattr(model.config, "tie_word_embeddings", False):
        head.weight = model.get_input_embeddings().weight
    else:
        trimmed = torch.nn.Linear(head.in_features, len(keep), bias=head.bias is not None)
        trimmed.weight.data.copy_(head.weight.data[index])
        if head.bias is not None:
            trimmed.bias.data.copy_(head.bias.data[index])
        model.set_output_embeddings(trimmed)


def _renumber_config(config: Any, new_id: dict[int, int]) -> None:
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(config, name, None)
        if isinstance(value, list):
            setattr(config, name, [new_id[v] for v in value if v in new_id])
        elif value is not None:
            setattr(config, name, new_id.get(value))


def _tokenizer_from_json(spec: dict[str, Any], tokenizer: Any) -> Any:
    """`tokenizer` (its class, special tokens, chat template) over the trimmed `spec`."""
    from transformers import AutoTokenizer

    staging = Path(tempfile.mkdtemp(prefix="helploop-trim-"))
    try:
        tokenizer.save_pretrained(str(staging))
        (staging / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        return AutoTokenizer.from_pretrained(str(staging))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def trim_generator(
    model: Any,
    tokenizer: Any,
    token_ids: list[list[int]],
    texts: list[str],
    *,
    keep_top: int = DEFAULT_KEEP_TOP,
) -> tuple[Any, GeneratorTrimReport]:
    """Trim `model` in place to the tokens of `token_ids` (the training examples, encoded as fine-tuning
    reads them) and of the scripts of `texts`; returns the trimmed tokenizer (`tokenizer` renumbered:
    the pipeline it really runs, its class and chat template) and the report."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    scripts = corpus_scripts(texts)
    used = {i for ids in token_ids for i in ids}
    keep = kept_ids(spec, used=used, scripts=set(scripts), keep_top=keep_top)
    before = sum(p.numel() for p in model.parameters())
    rows_before = model.get_input_embeddings().weight.shape[0]
    _trim_rows(model, keep)
    new_id = {old: new for new, old in enumerate(keep)}
    model.config.vocab_size = len(keep)
    _renumber_config(model.config, new_id)
    if getattr(model, "generation_config", None) is not None:
        _renumber_config(model.generation_config, new_id)
    trimmed = _tokenizer_from_json(trimmed_tokenizer_json(spec, keep), tokenizer)
    report = GeneratorTrimReport(
        tokens_before=rows_before,
        tokens_after=len(keep),
        scripts=scripts,
        corpus_tokens=len(used),
        keep_top=keep_top,
        parameters_before=before,
        parameters_after=sum(p.numel() for p in model.parameters()),
        kept=keep,
    )
    log.info(
        "generator vocabulary trimmed %d -> %d tokens (scripts %s; %d used by the examples); "
        "parameters %.1f M -> %.1f M",
        report.tokens_before,
        report.tokens_after,
        ",".join(scripts),
        report.corpus_tokens,
        before / 1e6,
        report.parameters_after / 1e6,
    )
    return trimmed, report
