"""Export by weights (services/trainer/export_reuse.py) on a small BERT with MiniLM's tokenizer: a second
export of the same structure writes the new weights into the kept graph and matches PyTorch; a kept graph
whose map misses a parameter fails the parity check that guards every bundle, and once marked unusable is
never used again; another structure (one more intent) has another key."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from services.trainer.export import ExportParityError, check_parity, export_onnx, write_bundle_files
from services.trainer.export_reuse import MAP, graph_key, mark_unusable
from shared.runtime.classifier import HeadSpec

TEXTS = ["where is my parcel", "refund please, the kettle broke after two days of use", "hi", "thanks!"]
MAX_LENGTH = 32


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from services.trainer.base_model import MINILM_ENCODER, locate

    return AutoTokenizer.from_pretrained(str(locate(MINILM_ENCODER)))


def _model(tokenizer: Any, intents: int = 4, *, fresh: bool = False) -> Any:
    """A small BERT, its weights moved off their initial values (as training does) unless `fresh`."""
    from transformers import BertConfig, BertModel

    from services.trainer.model import MultiHeadClassifier

    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(intents)
    encoder = BertModel(config, add_pooling_layer=False)
    model = MultiHeadClassifier(encoder, {"intent": intents, "priority": 3}, dropout=0.1)
    return model if fresh else _retrained(model)


def _bundle(model: Any, tokenizer: Any, out: Path, graphs: Path) -> bool:
    """Whether the export wrote into a kept graph (else it traced)."""
    out.mkdir()
    heads = [
        HeadSpec(n, f"logits_{n}", [str(i) for i in range(h.out_features)]) for n, h in model.heads.items()
    ]
    write_bundle_files(tokenizer, out, heads=heads, max_length=MAX_LENGTH, languages=["en"])
    return export_onnx(model, tokenizer, out, max_length=MAX_LENGTH, graph_cache=graphs) is not None


def _retrained(model: Any) -> Any:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model


def _parity(model: Any, tokenizer: Any, bundle: Path) -> float:
    return check_parity(model, tokenizer, bundle, TEXTS, max_length=MAX_LENGTH, tolerance=1e-4)


@pytest.fixture(scope="module")
def traced(tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    """One trace for the tests below: the model, the graphs directory that keeps its graph, its bundle."""
    root, model = tmp_path_factory.mktemp("traced"), _model(tokenizer)
    assert _bundle(model, tokenizer, root / "first", root / "graphs") is False  # traced, and kept
    return model, root / "graphs", root / "first"


def _copy(traced: tuple[Any, Path, Path], tmp_path: Path) -> tuple[Any, Path, Path]:
    model, graphs, first = traced
    shutil.copytree(graphs, tmp_path / "graphs")
    return copy.deepcopy(model), tmp_path / "graphs", first


def test_a_second_export_writes_its_weights_into_the_kept_graph(
    tokenizer: Any, traced: tuple[Any, Path, Path], tmp_path: Path
) -> None:
    model, graphs, first = _copy(traced, tmp_path)
    (kept,) = graphs.iterdir()
    mapping = json.loads((kept / MAP).read_text())
    linear = {n for n, p in model.state_dict().items() if n.endswith(".weight") and p.ndim == 2}
    assert {f"model.{n}" for n in linear} <= {name for name, _ in mapping.values()}
    assert any(transposed for _, transposed in mapping.values())  # the exporter folds weight.T
    _retrained(model)
    with pytest.raises(ExportParityError):
        _parity(model, tokenizer, first)  # the new weights differ from the first bundle's
    assert _bundle(model, tokenizer, tmp_path / "second", graphs) is True
    assert _parity(model, tokenizer, tmp_path / "second") < 1e-4
    assert kept.name == _key(_model(tokenizer)) != _key(_model(tokenizer, intents=5))  # one more intent


def _key(model: Any) -> str:
    from services.trainer.export import EXPORT_OPSET
    from services.trainer.model import WithEmbedding

    return graph_key(WithEmbedding(model).eval(), max_length=MAX_LENGTH, opset=EXPORT_OPSET)


def test_a_kept_graph_that_misses_a_parameter_fails_parity_and_is_set_aside(
    tokenizer: Any, traced: tuple[Any, Path, Path], tmp_path: Path
) -> None:
    model, graphs, _first = _copy(traced, tmp_path)
    (kept,) = graphs.iterdir()
    mapping = json.loads((kept / MAP).read_text())
    dropped = next(name for name, (_, transposed) in mapping.items() if transposed)
    (kept / MAP).write_text(json.dumps({k: v for k, v in mapping.items() if k != dropped}))
    _retrained(model)
    assert _bundle(model, tokenizer, tmp_path / "stale", graphs) is True
    with pytest.raises(ExportParityError):  # one weight left as it was: caught before any bundle is published
        _parity(model, tokenizer, tmp_path / "stale")
    mark_unusable(kept)
    assert _bundle(model, tokenizer, tmp_path / "traced", graphs) is False
    assert _parity(model, tokenizer, tmp_path / "traced") < 1e-4


def test_a_graph_where_parameters_share_a_constant_is_not_used(tokenizer: Any, tmp_path: Path) -> None:
    """A fresh model's zero biases and unit LayerNorm weights are one constant each in the exported graph:
    trained weights could not all be written back, so that graph is never used."""
    graphs, model = tmp_path / "graphs", _model(tokenizer, fresh=True)
    assert _bundle(model, tokenizer, tmp_path / "first", graphs) is False
    _retrained(model)
    assert _bundle(model, tokenizer, tmp_path / "second", graphs) is False
    assert _parity(model, tokenizer, tmp_path / "second") < 1e-4


def test_only_the_most_recently_used_graphs_are_kept(tmp_path: Path) -> None:
    import os

    from services.trainer.export_reuse import KEEP, _prune

    for age in range(KEEP + 2):
        (tmp_path / f"graph-{age}").mkdir()
        os.utime(tmp_path / f"graph-{age}", (1e9 - age, 1e9 - age))  # graph-0 the most recent
    (tmp_path / ".graph-being-written").mkdir()
    _prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".graph-being-written"] + [
        f"graph-{age}" for age in range(KEEP)
    ]


def test_a_kept_graph_gone_while_being_read_means_a_trace(tokenizer: Any, tmp_path: Path) -> None:
    """Another training pruned it between the look and the read: no error, the caller traces."""
    from services.trainer.export_reuse import write_with_weights

    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / MAP).write_text("{}")  # the map still there, its graph already removed
    assert write_with_weights(_model(tokenizer), tmp_path / "kept", tmp_path / "model.onnx") is False
    assert not (tmp_path / "model.onnx").exists()
