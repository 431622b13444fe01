"""Sessions' thread counts (an explicit count wins, else `OMP_NUM_THREADS`, else onnxruntime's default)
and how long their idle threads spin."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from shared.runtime.onnx_session import BRIEF_SPIN_US, create_session, default_intra_op_threads, int8_on_cuda


def _identity_model(path: Path) -> Path:
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [value], [out])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize(("env", "expected"), [(None, 0), ("1", 1), ("3", 3), ("", 0), ("two", 0), ("0", 0)])
def test_the_default_follows_omp_num_threads(
    monkeypatch: pytest.MonkeyPatch, env: str | None, expected: int
) -> None:
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert default_intra_op_threads() == expected


def test_a_session_keeps_to_one_thread_when_told_and_an_explicit_count_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = _identity_model(tmp_path / "identity.onnx")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert create_session(model).get_session_options().intra_op_num_threads == 1
    assert create_session(model, intra_op_threads=2).get_session_options().intra_op_num_threads == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert create_session(model).get_session_options().intra_op_num_threads == 0


def test_threads_spin_briefly_between_operators_unless_told_otherwise(tmp_path: Path) -> None:
    """A classifier's or encoder's threads spin 20 µs for the next operator, then sleep (never through the
    gap between tickets); a decoder keeps onnxruntime's own spin; 0 never spins."""
    model = _identity_model(tmp_path / "identity.onnx")

    def entry(session: object, key: str) -> str | None:
        options = session.get_session_options()  # type: ignore[attr-defined]
        try:
            return options.get_session_config_entry(key)
        except Exception:  # onnxruntime raises where the key was never set
            return None

    brief = create_session(model, intra_op_threads=2)
    assert entry(brief, "session.intra_op.allow_spinning") == "1"
    assert entry(brief, "session.intra_op.spin_duration_us") == str(BRIEF_SPIN_US) == "20"
    decoder = create_session(model, intra_op_threads=2, spin_us=None)
    assert entry(decoder, "session.intra_op.allow_spinning") == "1"
    assert entry(decoder, "session.intra_op.spin_duration_us") is None
    asleep = create_session(model, intra_op_threads=2, spin_us=0)
    assert entry(asleep, "session.intra_op.allow_spinning") == "0"


def test_an_int8_bundle_on_cuda_names_its_float32_parent(tmp_path: Path) -> None:
    """`helploop train` serves int8 by default on a CPU; a GPU worker loading it hears what to serve."""
    manifest = {
        "quantization": "int8-dynamic (onnxruntime, QInt8 weights per channel)",
        "parent_version": "v1",
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert int8_on_cuda(tmp_path, "cuda") == "v1"
    assert int8_on_cuda(tmp_path, "cpu") is None
    (tmp_path / "manifest.json").write_text(json.dumps({"quantization": "fp16", "parent_version": "v1"}))
    assert int8_on_cuda(tmp_path, "cuda") is None
    assert int8_on_cuda(tmp_path / "missing", "cuda") is None
