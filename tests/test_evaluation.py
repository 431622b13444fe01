"""`helploop evaluate` reports and the int8 export, on the session's fine-tuned demo model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.trainer.assessment import run_evaluation
from services.trainer.demo_data import write_dataset
from services.trainer.derive import derived_child
from shared.registry import Registry
from shared.runtime.classifier import OnnxClassifier


@pytest.fixture(scope="module")
def demo_test_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("test-data") / "test.jsonl"
    write_dataset(path, per_intent=8, seed=99)  # another seed: unseen tickets
    return path


def test_report_has_metrics_baseline_and_plots(
    trained_registry: Registry, demo_test_file: Path, tmp_path: Path
) -> None:
    report = run_evaluation(
        registry=trained_registry, model="active", test_file=demo_test_file, out_dir=tmp_path / "report"
    )
    stored = json.loads((tmp_path / "report" / "report.json").read_text())
    assert stored["model"]["version"] == trained_registry.active_version()
    intent = stored["model_eval"]["heads"]["intent"]
    assert set(stored["model_eval"]["heads"]) == {"intent", "sentiment", "priority"}
    assert intent["examples"] == 8 * 14 and 0 <= intent["accuracy"] <= 1
    assert {"precision", "recall", "f1", "support"} <= set(intent["per_class"]["praise"])
    assert "ece" in intent and "ece_uncalibrated" in intent and intent["reliability"]
    rejected = intent["with_rejection"]
    assert 0 < rejected["rejected_share"] < 0.2  # the intent head's rule rejects the least confident few
    assert rejected["accuracy"] <= intent["accuracy"] + 1e-9
    assert "oos" not in intent  # no out-of-scope queries in this test file
    assert stored["model_eval"]["latency"]["batch1_p50_ms"] > 0
    assert set(stored["baseline"]["heads"]) == {"intent", "sentiment", "priority"}
    assert "baselines.png" in report["plots"]
    for name in report["plots"]:
        assert (tmp_path / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "before fine-tuning" in markdown and "| intent |" in markdown
    # the TF-IDF baseline: trained on the fine-tuned model's split of the training file, same test tickets
    tfidf = stored["tfidf_baseline"]
    assert set(tfidf["heads"]) == {"intent", "sentiment", "priority"}
    assert tfidf["train_examples"] == stored["baseline"]["train_examples"] == len(_training_split(stored))
    side = stored["versus_baselines"]["heads"]["intent"]
    assert side["tfidf"] == {k: tfidf["heads"]["intent"][k] for k in ("accuracy", "macro_f1")}
    assert side["fine_tuned_minus_tfidf"]["accuracy"] == pytest.approx(
        intent["accuracy"] - tfidf["heads"]["intent"]["accuracy"]
    )
    assert f"{side['tfidf']['accuracy']:.4f} / {side['tfidf']['macro_f1']:.4f}" in markdown
    assert "against the TF-IDF baseline" in markdown


def _training_split(stored: dict[str, Any]) -> list[Any]:
    from services.trainer.config import TrainConfig
    from services.trainer.pipeline import load_splits

    return load_splits(TrainConfig(**stored["model"]["training_config"]))[0]


def test_report_renders_when_the_baselines_cannot_be_built(
    trained_registry: Registry, demo_test_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.trainer.linear_baseline as linear_baseline

    def no_sklearn(*args: Any, **kwargs: Any) -> Any:
        raise ModuleNotFoundError("No module named 'sklearn'")

    monkeypatch.setattr(linear_baseline, "tfidf_baseline", no_sklearn)
    report = run_evaluation(
        registry=trained_registry,
        model="active",
        test_file=demo_test_file,
        out_dir=tmp_path / "report",
        baseline=False,
    )
    assert "sklearn" in report["tfidf_baseline"]["unavailable"]
    assert report["baseline"]["unavailable"] == "skipped (--no-baseline)"
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "Not available: No module named 'sklearn' (install the train extra" in markdown
    assert "| intent | all | 112 |" in markdown and "| n/a | n/a | n/a |" in markdown
    assert (tmp_path / "report" / "baselines.png").is_file()


def test_int8_bundle_keeps_predictions_and_reports_the_delta(
    trained_registry: Registry, demo_test_file: Path, tmp_path: Path
) -> None:
    parent = trained_registry.active_version()
    assert parent is not None
    version = derived_child(trained_registry, parent, "int8")  # the fixture's quantize_bundle(active)
    assert version is not None
    manifest = trained_registry.verify(version)
    assert manifest["parent_version"] == parent and "int8" in manifest["quantization"]
    assert trained_registry.active_version() == parent  # not activated unless asked
    fp32 = (trained_registry.bundle_dir(parent) / "model.onnx").stat().st_size
    int8 = (trained_registry.bundle_dir(version) / "model.onnx").stat().st_size
    assert int8 < fp32 / 2.5
    texts = [json.loads(line)["text"] for line in demo_test_file.read_text().splitlines()]
    a = OnnxClassifier(trained_registry.bundle_dir(parent), version=parent).predict(texts)
    b = OnnxClassifier(trained_registry.bundle_dir(version), version=version).predict(texts)
    agreement = sum(x.primary.top_k[0][0] == y.primary.top_k[0][0] for x, y in zip(a, b, strict=True)) / len(
        a
    )
    assert agreement >= 0.9
    report = run_evaluation(
        registry=trained_registry,
        model=version,
        test_file=demo_test_file,
        out_dir=tmp_path / "int8",
        baseline=False,
    )
    assert report["comparison"]["version"] == parent
    assert abs(report["comparison"]["accuracy_delta"]) <= 0.1
