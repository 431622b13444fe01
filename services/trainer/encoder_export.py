"""`helploop kb build-encoder`: a pretrained encoder as a mean-pooling sentence encoder in ONNX.

`multilingual-e5-small` (the default: a Chinese ticket finds the English article and the other way round) is
used as it was trained, with `query: ` before a ticket and `passage: ` before an article chunk; the bundle's
config carries the prefixes and the serving encoder adds them. Its weights are stored int8 (`w8`: the
MatMuls in symmetric blocks of 32, the 250k-piece embedding table per row), which keeps a worker well under
1 GB and its embeddings within cosine 0.9999 of float32 on every CPU; recall is measured by
`helploop kb-eval`. `minilm-l6` (English only) has no prefixes and stays fp32.
Cached by the weights' sha256: a second call finds the published bundle and returns at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from services.trainer.base_model import MINILM_L6, MULTILINGUAL_E5_SMALL, resolve_base_model
from services.trainer.export import INPUT_NAMES, ExportParityError
from services.trainer.model import mean_pool
from services.trainer.train import EMBEDDING, encode
from shared.registry import Registry, RegistryError, sha256_file
from shared.runtime.encoder import SentenceEncoder

log = logging.getLogger(__name__)
MAX_LENGTH = 256
QUANTIZED_MIN_COSINE = 0.995  # the quantized graph's embeddings against the fp32 graph's, on PARITY_TEXTS


@dataclass(frozen=True)
class EncoderRecipe:
    query_prefix: str = ""
    passage_prefix: str = ""
    # a mode of services.trainer.quantize.QUANTIZERS, or None (float32). "w8", not dynamic "int8": int8
    # activations in u8s8 kernels saturate on CPUs without VNNI, so the int8 graph ranked the demo KB
    # differently on two machines (cosine to fp32 0.9968 vs w8's 0.9999, see docs/drafts.md)
    quantize: str | None = None
    # the cosine under which a KB hit is not put into a draft's prompt. Measured on the demo KB's 250
    # bilingual questions and 10 off-topic ones (e5 int8): best relevant chunk in either language p5 0.843,
    # in the other language only p5 0.790 (min 0.750); off-topic best p50 0.81 over both languages, 0.78
    # over English only. e5's cosines crowd high: the floor keeps every cross-language answer there and
    # drops the clearly unrelated; grounding checks catch the rest. MiniLM: relevant p5 0.376, off-topic
    # p50 0.266
    min_relevance: float = 0.25
    # a 250k-piece unigram vocabulary costs ~295 MB of tokenizer memory in every worker: keep every
    # single character and the most probable pieces of these scripts (vocab_trim); () keeps all.
    # e5, Latin + Han, 100k each: 127,167 pieces, the served encoder 612 -> 356 MB RSS; kb-eval r@3 with
    # the int8 graph then: same-language 0.968, cross-language 0.924 (whole vocabulary 0.968 / 0.916; 50k:
    # 0.972 / 0.884)
    trim_scripts: tuple[str, ...] = ()
    trim_keep_top: int = 100_000

    def tag(self) -> str:
        """Part of the bundle's version: a changed recipe is a new bundle, not a stale cached one."""
        recipe = {
            **self.bundle_config(),
            "quantize": self.quantize,
            "max_length": MAX_LENGTH,
            "trim": [*self.trim_scripts, self.trim_keep_top] if self.trim_scripts else None,
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:6]

    def bundle_config(self) -> dict[str, str | float]:
        return {
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
            "min_relevance": self.min_relevance,
        }


KB_ENCODERS = {
    MULTILINGUAL_E5_SMALL: EncoderRecipe(
        "query: ", "passage: ", quantize="w8", min_relevance=0.75, trim_scripts=("Latin", "Han")
    ),
    MINILM_L6: EncoderRecipe(min_relevance=0.25),
}
PARITY_TEXTS = [
    "Where is my parcel? It was due last week.",
    "How long do refunds take to reach my card?",
    "Returns policy — You can return unworn items within 30 days of delivery for a full refund.",
    "我的包裹还没到，已经两周了，我要退款",
    "退货政策：收货后30天内未穿着的商品可以全额退款。",
]


class MeanPooling(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return mean_pool(self.encoder, input_ids, attention_mask, token_type_ids)


def _export(model: MeanPooling, tokenizer: object, path: Path) -> None:
    sample = encode(tokenizer, ["a short text", "a somewhat longer text about a parcel"], MAX_LENGTH)
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=1, max=MAX_LENGTH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            tuple(sample[name] for name in INPUT_NAMES),
            dynamo=True,
            dynamic_shapes={name: {0: batch, 1: seq} for name in INPUT_NAMES},
            input_names=INPUT_NAMES,
            output_names=[EMBEDDING],
            verbose=False,
        )
    program.save(str(path))


def _check_parity(model: MeanPooling, tokenizer: object, staging: Path, tolerance: float = 1e-4) -> float:
    with torch.no_grad():
        expected = model(**encode(tokenizer, PARITY_TEXTS, MAX_LENGTH)).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    actual = SentenceEncoder(staging, version="parity-check").embed(PARITY_TEXTS)
    worst = float(np.abs(expected - actual).max())
    if worst > tolerance:
        raise ExportParityError(f"sentence encoder ONNX differs from PyTorch by {worst:.2e}")
    return worst


def _stage(directory: Path, staging: Path, *, recipe: EncoderRecipe) -> dict:
    """Export, check against PyTorch (fp32: 1e-4; quantized: cosine), quantize; returns the manifest's
    checks."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = MeanPooling(AutoModel.from_pretrained(str(directory), add_pooling_layer=False)).eval()
    _export(model, tokenizer, staging / "model.onnx")
    tokenizer.save_pretrained(str(staging))
    config = {
        "max_length": MAX_LENGTH,
        "dimension": int(model.encoder.config.hidden_size),
        "input_names": INPUT_NAMES,
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "pooling": "mean",
        "normalised": True,
        **recipe.bundle_config(),
    }
    (staging / "config.json").write_text(json.dumps(config, indent=2))
    checks = {"onnx_parity_max_abs_diff": _check_parity(model, tokenizer, staging)}
    if recipe.quantize:
        from services.trainer.quantize import DESCRIPTIONS, QUANTIZERS

        fp32 = SentenceEncoder(staging, version="fp32").embed(PARITY_TEXTS)
        quantized = staging / "model.quantized.onnx"
        QUANTIZERS[recipe.quantize](staging / "model.onnx", quantized)
        quantized.replace(staging / "model.onnx")
        cosine = (fp32 * SentenceEncoder(staging, version=recipe.quantize).embed(PARITY_TEXTS)).sum(axis=1)
        if float(cosine.min()) < QUANTIZED_MIN_COSINE:
            raise ExportParityError(f"{recipe.quantize} sentence encoder: cosine {cosine.min():.4f} to fp32")
        checks |= {
            "quantization": DESCRIPTIONS.get(recipe.quantize, recipe.quantize),
            "quantized_min_cosine_to_fp32": float(cosine.min()),
        }
    return checks


def _trimmed_stage(directory: Path, staging: Path, *, recipe: EncoderRecipe) -> dict:
    if not recipe.trim_scripts:
        return _stage(directory, staging, recipe=recipe)
    import tempfile

    from services.trainer.vocab_trim import trim_vocabulary

    with tempfile.TemporaryDirectory(prefix="helploop-kb-encoder-") as work:
        trim = trim_vocabulary(
            directory, Path(work), [], keep_top=recipe.trim_keep_top, scripts=list(recipe.trim_scripts)
        )
        return {**_stage(Path(work), staging, recipe=recipe), "vocabulary_trim": trim.to_json()}


def build_sentence_encoder(
    registry: Registry, *, base: str = MULTILINGUAL_E5_SMALL, cache_dir: Path, activate: bool = True
) -> str:
    """Export (or find) the encoder bundle for `base` (a name of KB_ENCODERS or a local HF directory);
    returns its version."""
    chosen = resolve_base_model(base, cache_dir=cache_dir)
    weights = sorted(chosen.directory.glob("*.safetensors")) or sorted(chosen.directory.glob("*.bin"))
    if not weights:
        raise RegistryError(f"{chosen.directory}: no *.safetensors or *.bin weights")
    digest = chosen.weights_sha256 or sha256_file(weights[0])
    recipe = KB_ENCODERS.get(chosen.name, KB_ENCODERS[MINILM_L6])
    name = chosen.name if chosen.name != "local" else chosen.directory.name
    quantized = f"-{recipe.quantize}" if recipe.quantize else ""
    version = f"{name}-{digest[:12]}{quantized}-{recipe.tag()}"
    try:
        registry.verify(version)
    except RegistryError:
        with registry.staging() as staging:
            checks = _trimmed_stage(chosen.directory, staging, recipe=recipe)
            manifest = {
                "task": "sentence-embedding",
                "weights_sha256": digest,
                "base_model": chosen.to_json(),
            }
            registry.publish(staging, version=version, manifest=manifest | checks)
        log.info("built sentence encoder %s (%s)", version, checks)
    if activate and registry.active_version() != version:
        registry.activate(version)
    return version
