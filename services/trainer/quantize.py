"""`helploop export --quantize int8`: a new bundle with onnxruntime dynamic int8 quantization."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from services.trainer.assessment import resolve_version
from shared.registry import MANIFEST, Registry, new_version_id

log = logging.getLogger(__name__)


def quantize_model(source: Path, target: Path, *, generator: bool = False) -> None:
    """Classifier: int8 weights per channel. Generator: per tensor, and only MatMuls with a constant
    weight — per-channel int8 turned SmolLM2's decoder into garbage with onnxruntime 1.32 here."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_name("model.prep.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(
        str(prepared),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=not generator,
        extra_options={"MatMulConstBOnly": generator},
    )
    prepared.unlink()


def quantize_bundle(
    registry: Registry, model: str, *, mode: str = "int8", activate: bool = False, graph: str = "model.onnx"
) -> str:
    """Copy the bundle, quantize its graph (`model.onnx`; a generator's is `decoder.onnx`), record the
    parent, publish under a new version."""
    if mode != "int8":
        raise ValueError(f"unsupported quantization {mode!r}")
    parent = resolve_version(registry, model)
    manifest = registry.verify(parent)
    staging = registry.staging_dir()
    try:
        shutil.copytree(registry.bundle_dir(parent), staging, dirs_exist_ok=True)
        (staging / MANIFEST).unlink()
        fp32 = staging / f"{Path(graph).stem}.fp32.onnx"
        (staging / graph).rename(fp32)
        quantize_model(fp32, staging / graph, generator=graph == "decoder.onnx")
        fp32.unlink()
        version = f"{new_version_id()}-int8"
        derived = {k: v for k, v in manifest.items() if k not in ("files", "version")}
        granularity = "per tensor" if graph == "decoder.onnx" else "per channel"
        derived.update(
            parent_version=parent, quantization=f"int8-dynamic (onnxruntime, QInt8 weights {granularity})"
        )
        registry.publish(staging, version=version, manifest=derived)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sizes = {v: (registry.bundle_dir(v) / graph).stat().st_size / 2**20 for v in (parent, version)}
    log.info("quantized %s -> %s (%.1f MB -> %.1f MB)", parent, version, sizes[parent], sizes[version])
    if activate:
        registry.activate(version)
    return version
