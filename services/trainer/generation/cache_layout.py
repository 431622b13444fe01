"""The KV-cache layout of generator bundles exported before 2026-12-04, rebuilt from a current bundle.

Those bundles stack the whole cache into one `past_key_values` input (2·layers, batch, kv_heads, past,
head_dim) and one `present_key_values` output; the runtime still serves them (registries hold them). This
rewrites a per-layer bundle into that layout around the same graph, so that `make bench` measures the
layout change side by side (before / after, same weights) and the tests check that old bundles decode the
same tokens. Nothing serves what it writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def stack_cache(model: Any) -> None:
    """A per-layer decoder graph, in place: one input (2·layers, batch, kv_heads, past, head_dim) split into
    the layers' `past.{i}.…` tensors, and their `present.{i}.…` stacked into one output."""
    from onnx import TensorProto, helper

    graph = model.graph
    past = [i for i in graph.input if i.name.startswith("past.")]
    present = [o for o in graph.output if o.name.startswith("present.")]
    element = past[0].type.tensor_type.elem_type
    graph.initializer.extend(
        [
            helper.make_tensor("stack_axis", TensorProto.INT64, [1], [0]),
            helper.make_tensor("stack_sizes", TensorProto.INT64, [len(past)], [1] * len(past)),
        ]
    )
    parts = [f"{p.name}.stacked" for p in past]
    unpack = [helper.make_node("Split", ["past_key_values", "stack_sizes"], parts, axis=0)]
    unpack += [
        helper.make_node("Squeeze", [part, "stack_axis"], [value.name])
        for part, value in zip(parts, past, strict=True)
    ]
    pack = [helper.make_node("Unsqueeze", [o.name, "stack_axis"], [f"{o.name}.stacked"]) for o in present]
    stacked = [f"{o.name}.stacked" for o in present]
    pack.append(helper.make_node("Concat", stacked, ["present_key_values"], axis=0))
    nodes = [*unpack, *graph.node, *pack]
    del graph.node[:]
    graph.node.extend(nodes)
    shape = ["layers2", "batch", "kv_heads", "past", "head_dim"]
    for field, old, name in (
        (graph.input, past, "past_key_values"),
        (graph.output, present, "present_key_values"),
    ):
        for value in old:
            field.remove(value)
        field.append(helper.make_tensor_value_info(name, element, shape))


def stacked_bundle(source: Path, target: Path) -> None:
    """`source` (a per-layer bundle) written to `target` in the stacked layout, its config.json without
    `cache_layout` as those bundles were; weights kept beside the graph when the source keeps them so."""
    import onnx

    from services.trainer.quantize import external_data_files

    graph = source / "decoder.onnx"
    external = external_data_files(graph)
    model = onnx.load(str(graph))
    stack_cache(model)
    target.mkdir()
    for item in source.iterdir():
        if item.is_file() and item.name not in ("decoder.onnx", "config.json", *external):
            shutil.copy2(item, target / item.name)
    location = "decoder.onnx.data" if external else None
    onnx.save(model, str(target / "decoder.onnx"), save_as_external_data=bool(external), location=location)
    config = json.loads((source / "config.json").read_text())
    config.pop("cache_layout")
    config["input_names"] = ["input_ids", "attention_mask", "position_ids", "past_key_values"]
    config["output_names"] = ["logits", "present_key_values"]
    (target / "config.json").write_text(json.dumps(config))
