"""Vocabulary trimming for a multilingual SentencePiece-unigram encoder (multilingual-e5-small's 250k pieces).

Most of the 250,002 XLM-R pieces serve languages a team never sees; their embedding rows are 96 M of the
model's 118 M parameters. Trimming keeps the rows a model needs (Abdaoui et al. 2020, "Load What You Need";
Ushio et al. 2023, "Efficient Multilingual Language Model Compression through Vocabulary Trimming"):

- the special pieces and every single-character piece (so no character becomes `<unk>` that was not
  before, and the tokenizer's unknown-character rule stays exactly as built),
- every piece the training texts (and any extra sample) tokenize into,
- the `keep_top` most probable pieces written only in the scripts of those texts (plus digits and
  punctuation): the unigram scores are log-probabilities estimated on the encoder's multilingual
  pre-training corpus, so this is the general sample of those languages the tokenizer was built from.

Viterbi over a subset of pieces still finds the best segmentation whenever all of its pieces are kept, so
every text of the trimming corpus is tokenized exactly as before (ids renumbered) and the trimmed model gives
the same outputs; other texts of the same languages are mostly unchanged (measured: `TrimReport`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import regex

log = logging.getLogger(__name__)
MIN_SCRIPT_SHARE = 0.01  # a script with fewer of the corpus's letters than this is not a training script
DEFAULT_KEEP_TOP = 20_000
TRIM_MIN_VOCAB = 100_000  # smaller vocabularies (MiniLM's 30k WordPiece) are left as they are
LETTER = regex.compile(r"\p{L}")
SCRIPTS = [
    "Latin",
    "Han",
    "Hiragana",
    "Katakana",
    "Hangul",
    "Cyrillic",
    "Greek",
    "Arabic",
    "Hebrew",
    "Thai",
    "Devanagari",
    "Bengali",
    "Tamil",
    "Telugu",
    "Gujarati",
    "Kannada",
    "Malayalam",
    "Gurmukhi",
    "Georgian",
    "Armenian",
    "Ethiopic",
    "Khmer",
    "Lao",
    "Myanmar",
    "Sinhala",
]
SCRIPT_PATTERNS = {name: regex.compile(rf"\p{{Script={name}}}") for name in SCRIPTS}


@dataclass(frozen=True)
class TrimReport:
    pieces_before: int
    pieces_after: int
    scripts: list[str]
    corpus_texts: int
    corpus_pieces: int  # distinct pieces the corpus uses
    keep_top: int
    parameters_before: int
    parameters_after: int
    kept: list[int] = field(default_factory=list, repr=False)  # the base's ids, ascending (new id = index)

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "kept"}


def is_trimmable(model_dir: Path) -> bool:
    """A tokenizers Unigram vocabulary large enough to be worth trimming."""
    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        return False
    model = json.loads(path.read_text(encoding="utf-8")).get("model", {})
    return model.get("type") == "Unigram" and len(model.get("vocab", [])) >= TRIM_MIN_VOCAB


def script_of(char: str) -> str | None:
    for name, pattern in SCRIPT_PATTERNS.items():
        if pattern.match(char):
            return name
    return None


def corpus_scripts(texts: Iterable[str]) -> list[str]:
    """The scripts of at least 1 % of the corpus's letters (Han for Chinese, Latin for English, ...)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(script_of(char) or "other" for char in LETTER.findall(text))
    counts.pop("other", None)
    total = sum(counts.values())
    return sorted(name for name, n in counts.items() if total and n / total >= MIN_SCRIPT_SHARE)


def written_in(piece: str, scripts: set[str]) -> bool:
    """Every letter of the piece is in one of `scripts` (a piece with no letters, e.g. digits, is in)."""
    return all(script_of(char) in scripts for char in LETTER.findall(piece))


def kept_ids(
    vocab: list[list], *, used: set[int], specials: set[int], scripts: set[str], keep_top: int
) -> list[int]:
    """Old ids to keep, ascending (so the special pieces at the front keep their ids)."""
    keep = set(used) | set(specials)
    keep |= {i for i, (piece, _) in enumerate(vocab) if len(piece) == 1}
    by_script: dict[str, list[int]] = {}
    for i, (piece, _) in enumerate(vocab):
        if i not in keep and written_in(piece, scripts):
            letters = LETTER.findall(piece)
            by_script.setdefault(script_of(letters[0]) if letters else "common", []).append(i)
    for candidates in by_script.values():  # each script its own quota: Latin does not crowd out Han
        candidates.sort(key=lambda i: vocab[i][1], reverse=True)
        keep |= set(candidates[:keep_top])
    return sorted(keep)


def trimmed_tokenizer_json(spec: dict, keep: list[int]) -> dict:
    """The same pipeline over the kept pieces; added (special) tokens renumbered."""
    new_id = {old: new for new, old in enumerate(keep)}
    spec = json.loads(json.dumps(spec))
    model = spec["model"]
    model["vocab"] = [model["vocab"][old] for old in keep]
    model["unk_id"] = new_id[model["unk_id"]]
    for token in spec.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    for token in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        token["ids"] = [new_id[i] for i in token["ids"]]
    return spec


def _used_ids(tokenizer_path: Path, texts: list[str]) -> set[int]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    used: set[int] = set()
    for start in range(0, len(texts), 1024):
        for encoding in tokenizer.encode_batch(texts[start : start + 1024], add_special_tokens=False):
            used.update(encoding.ids)
    return used


def _copy_if_present(source: Path, target: Path, names: tuple[str, ...]) -> None:
    for name in names:
        if (source / name).is_file():
            (target / name).write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")


def _keep_rows(model: Any, keep: list[int]) -> None:
    """The input embedding reduced to the rows `keep`, in that order (their new ids)."""
    import torch

    rows = model.get_input_embeddings().weight.data[torch.tensor(keep)].clone()
    embedding = torch.nn.Embedding(len(keep), rows.shape[1], padding_idx=model.config.pad_token_id)
    embedding.weight.data.copy_(rows)
    model.set_input_embeddings(embedding)
    model.config.vocab_size = len(keep)


def trim_vocabulary(
    source: Path,
    target: Path,
    texts: list[str],
    *,
    keep_top: int = DEFAULT_KEEP_TOP,
    scripts: list[str] | None = None,
) -> TrimReport:
    """Write a trimmed copy of the model directory `source` (config, weights, tokenizer) to `target`;
    `scripts` (else those of `texts`) choose which scripts get their quota of most probable pieces."""
    from transformers import AutoModel

    spec = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    scripts = sorted(scripts) if scripts is not None else corpus_scripts(texts)
    specials = {token["id"] for token in spec.get("added_tokens", [])} | {spec["model"]["unk_id"]}
    used = _used_ids(source / "tokenizer.json", texts)
    keep = kept_ids(vocab, used=used, specials=specials, scripts=set(scripts), keep_top=keep_top)
    model = AutoModel.from_pretrained(str(source), add_pooling_layer=False)
    before = sum(p.numel() for p in model.parameters())
    _keep_rows(model, keep)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    trimmed = trimmed_tokenizer_json(spec, keep)
    (target / "tokenizer.json").write_text(json.dumps(trimmed, ensure_ascii=False), encoding="utf-8")
    _copy_if_present(source, target, ("tokenizer_config.json", "special_tokens_map.json"))
    report = TrimReport(
        pieces_before=len(vocab),
        pieces_after=len(keep),
        scripts=scripts,
        corpus_texts=len(texts),
        corpus_pieces=len(used),
        keep_top=keep_top,
        parameters_before=before,
        parameters_after=sum(p.numel() for p in model.parameters()),
        kept=keep,
    )
    (target / "vocabulary_trim.json").write_text(json.dumps(report.to_json(), indent=2))
    log.info(
        "vocabulary trimmed %d -> %d pieces (scripts %s; %d used by %d texts); parameters %.1f M -> %.1f M",
        report.pieces_before,
        report.pieces_after,
        ",".join(scripts),
        report.corpus_pieces,
        report.corpus_texts,
        report.parameters_before / 1e6,
        report.parameters_after / 1e6,
    )
    return report
