"""Export by weights: a classifier trained again on the same base, heads and length has the graph of the
last one exported, only other weights. The dynamo exporter takes some 10 s to trace and decompose MiniLM
on one core (more than a one-epoch retraining's export budget should be); the graph it wrote is kept
under `cache_dir/export-graphs/<key>` with a map from each initializer to the parameter it holds (as is,
or transposed: the exporter folds a Linear's `weight.T` into a constant), and the next export writes the
new weights into a copy. Constants that hold no parameter are kept. The bundle's parity check
(`check_parity`) still compares the result with PyTorch, and a miss exports afresh (`pipeline.py`)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
GRAPH, MAP, UNUSABLE = "model.onnx", "weights.json", "unusable"
KEEP = 4  # graphs kept, the most recently used (a label set that changes nightly leaves old ones behind)


def graph_key(module: Any, *, max_length: int, opset: int) -> str:
    """The module's structure (its layers and every parameter's name, shape and dtype), the export's
    settings, the exporter's versions and the code that defines the graph."""
    import onnx
    import onnxscript
    import torch

    from services.trainer import export, model

    digest = hashlib.sha256(repr(module).encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
    digest.update(
        f"{max_length}:{opset}:{torch.__version__}:{onnx.__version__}:{onnxscript.__version__}".encode()
    )
    for source in (export.__file__, model.__file__, __file__):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:24]


def _parameters(module: Any) -> dict[str, np.ndarray]:
    return {name: tensor.detach().cpu().numpy() for name, tensor in module.state_dict().items()}


def weight_map(graph: Any, params: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """initializer name → [parameter name, transposed?] for every initializer that holds a parameter."""
    from onnx import numpy_helper

    found: dict[str, list[Any]] = {}
    by_shape: dict[tuple[int, ...], list[str]] = {}
    for name, value in params.items():
        if value.ndim == 2:
            by_shape.setdefault(value.T.shape, []).append(name)
    for init in graph.initializer:
        if init.name in params:
            found[init.name] = [init.name, False]
            continue
        if len(init.dims) != 2:
            continue
        data = numpy_helper.to_array(init)
        match = next((n for n in by_shape.get(data.shape, []) if np.array_equal(params[n].T, data)), None)
        if match is not None:
            found[init.name] = [match, True]
    return found


def remember(module: Any, exported: Path, cache: Path) -> None:
    """Keep the graph just exported from `module` and its weight map in `cache` (atomically: concurrent
    trainings may race to the same key; the first one's stays). A graph where some parameter has no
    initializer of its own (the exporter merges equal constants: the zero biases of a fresh model) is
    kept as unusable: new weights could not all be written into it."""
    import onnx

    if cache.exists():
        return
    mapping = weight_map(onnx.load(str(exported)).graph, _parameters(module))
    shared = {name for name, _ in module.named_parameters()} - {name for name, _ in mapping.values()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".graph-", dir=cache.parent))
    try:
        if shared:
            log.info("graph not kept for export by weights: %d parameters share a constant", len(shared))
            (scratch / UNUSABLE).touch()
        else:
            shutil.copyfile(exported, scratch / GRAPH)
            (scratch / MAP).write_text(json.dumps(mapping))
        os.rename(scratch, cache)
    except OSError:  # another training kept it first
        shutil.rmtree(scratch, ignore_errors=True)
    _prune(cache.parent)


def _prune(graphs: Path) -> None:
    kept = sorted((p for p in graphs.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_used)
    for old in kept[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)


def _used(directory: Path) -> float:
    try:
        return directory.stat().st_mtime
    except OSError:
        return 0.0


def write_with_weights(module: Any, cache: Path, out: Path) -> bool:
    """`out` ← the kept graph with `module`'s weights; False (nothing written) when none is kept."""
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import numpy_helper

    try:
        if (cache / UNUSABLE).exists():
            return False
        mapping = json.loads((cache / MAP).read_text())
        os.utime(cache)  # most recently used: the last to be pruned
        graph = onnx.load(str(cache / GRAPH))
    except (OSError, ValueError, DecodeError) as exc:  # none kept, or pruned or damaged while read: trace
        log.debug("no graph to export by weights into (%s): tracing", exc)
        return False
    params = _parameters(module)
    for init in graph.graph.initializer:
        if init.name in mapping:
            name, transposed = mapping[init.name]
            value = params[name].T if transposed else params[name]
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), init.name))
    onnx.save(graph, str(out))
    log.info("exported by weights into the graph kept in %s (%d initializers)", cache.name, len(mapping))
    return True


def mark_unusable(kept: Path) -> None:
    """The graph kept in `kept` missed parity with the weights written into it: never used again (a
    constant of the graph held something a parameter decides that the weight map did not name)."""
    (kept / UNUSABLE).touch()
