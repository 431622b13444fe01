"""Retraining in process: a deliberately worse candidate is rejected by the gate with reasons and nothing
changes in production; too little new data skips; one run at a time (lock, open-run check)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from services.trainer.demo_data import write_dataset
from services.trainer.retrain.flow import RetrainContext
from services.trainer.tasks import LOCK_KEY, retrain_with_lock
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.learning.models import RunStatus, TrainingRun
from shared.learning.runs import RunInProgress, create_run, get_run
from shared.registry import Registry, RegistryError
from shared.settings import load_settings
from tests.conftest import settings_overrides
from tests.learning_data import NEW_LABELS, copy_active, new_intent_texts, seed_resolutions, shuffled_labels

NOW = datetime.now(UTC)


@pytest.fixture
def factory(sqlite_url: str) -> sessionmaker[Session]:
    upgrade_database(sqlite_url)
    return build_session_factory(build_engine(sqlite_url))


@pytest.fixture
def registry(trained_registry: Registry, tmp_path: Path) -> Registry:
    return copy_active(trained_registry, tmp_path / "models")


def context_for(factory, registry, redis_url, tmp_path, **settings):  # type: ignore[no-untyped-def]
    values = settings_overrides(
        database_url="sqlite://",
        model_registry_dir=registry.root,
        training_dir=tmp_path / "training",
        **settings,
    )
    return RetrainContext(factory, registry, redis.Redis.from_url(redis_url), load_settings(**values))


def new_run(context: RetrainContext, **options: object) -> str:
    return create_run(
        session_factory=context.session_factory, trigger="manual", options=options, stale_after_s=600
    ).id


def test_a_candidate_trained_on_shuffled_labels_is_rejected_with_reasons(
    factory, registry: Registry, redis_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    demo, golden = tmp_path / "demo.csv", tmp_path / "golden.csv"
    write_dataset(demo, per_intent=30, seed=7)  # > 20 per intent: the full fine-tune, not the few-shot stage
    write_dataset(golden, per_intent=10, seed=99)
    bad_base = shuffled_labels(demo, tmp_path / "shuffled.csv")
    seed_resolutions(factory, new_intent_texts(30, seed=3), NEW_LABELS, start=datetime.now(UTC))
    context = context_for(
        factory,
        registry,
        redis_url,
        tmp_path,
        retrain_base_file=bad_base,
        golden_set_file=golden,
        retrain_epochs=1,
        retrain_max_steps=10,  # what is learnt from shuffled labels is noise however long it trains
    )
    active = registry.active_version()
    run_id = new_run(context)
    assert retrain_with_lock(run_id=run_id, context=context) == RunStatus.REJECTED
    run = get_run(session_factory=factory, run_id=run_id)
    assert run is not None and run.status == "rejected" and run.active_version == active
    assert any(r.startswith("golden/intent: macro-F1") for r in run.reasons), run.reasons
    assert run.report is not None and not run.report["gate"]["passed"]
    assert run.dataset["fingerprint"] and run.dataset["new_resolutions"] == 30
    candidate = run.candidate_version
    assert registry.active_version() == active and registry.status(candidate) == "rejected"
    assert registry.manifest(candidate)["parent_version"] == active
    with pytest.raises(RegistryError, match="rejected"):
        registry.activate(candidate)


def test_too_few_new_resolutions_skip_the_run_unless_forced(
    factory, registry: Registry, redis_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    seed_resolutions(factory, new_intent_texts(3, seed=4), NEW_LABELS, start=datetime.now(UTC))
    seed_resolutions(factory, new_intent_texts(5, seed=5), NEW_LABELS, start=NOW - timedelta(days=400))
    context = context_for(factory, registry, redis_url, tmp_path, retrain_min_new_resolutions=5)
    run_id = new_run(context)
    assert retrain_with_lock(run_id=run_id, context=context) == RunStatus.SKIPPED
    run = get_run(session_factory=factory, run_id=run_id)
    assert run.reasons == [
        f"3 new resolved ticket(s) since {registry.active_version()}; at least 5 needed (or force)"
    ]
    assert registry.versions() == [registry.active_version()]


def test_one_run_at_a_time(factory, registry: Registry, redis_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = context_for(factory, registry, redis_url, tmp_path)
    first = new_run(context)
    with pytest.raises(RunInProgress) as refused:
        new_run(context)
    assert refused.value.run_id == first
    with session_scope(factory) as session:  # a run whose worker died long ago does not block forever
        session.get(TrainingRun, first).requested_at = NOW - timedelta(days=1)
    second = create_run(session_factory=factory, trigger="manual", options={}, stale_after_s=3600).id
    assert get_run(session_factory=factory, run_id=first).status == "failed"
    lock = redis.Redis.from_url(redis_url).lock(LOCK_KEY, timeout=60)
    assert lock.acquire(blocking=False)  # another worker is training
    try:
        assert retrain_with_lock(run_id=second, context=context) == RunStatus.SKIPPED
    finally:
        lock.release()
    assert get_run(session_factory=factory, run_id=second).reasons == ["another training run holds the lock"]


def test_a_candidate_is_served_like_the_active_model_int8_when_it_is(
    trained_registry: Registry, registry: Registry
) -> None:
    """fp32 active: the candidate as trained. An int8 active model (its own graph's int8 child): the
    candidate quantized the same way before the gate sees it, its parent the trained candidate."""
    from services.trainer.derive import copy_derived
    from services.trainer.retrain.flow import served_like
    from tests.learning_data import clone_version

    active = registry.active_version()
    candidate = clone_version(registry, active, "v-candidate")
    assert served_like(registry, registry.manifest(active), candidate) == candidate
    int8 = copy_derived(trained_registry, registry, active, "int8")  # the fixture's, not quantized again
    assert int8 is not None
    served = served_like(registry, registry.manifest(int8), candidate)
    manifest = registry.manifest(served)
    assert served.endswith("-int8") and manifest["parent_version"] == candidate
    assert manifest["quantization"] == registry.manifest(int8)["quantization"]
    registry.verify(served)


def test_train_serve_int8_serves_the_child_only_where_its_accuracy_holds(registry: Registry) -> None:
    """`helploop train --serve int8`: the int8 child serves when it loses at most 0.5 pt on the validation
    tickets; with no loss allowed and a child that loses, the float32 parent serves and the reason says
    why. The accuracies are the serving runtime's, measured on the same tickets."""
    from services.trainer.data import Example
    from services.trainer.demo_data import generate_tickets
    from services.trainer.served import int8_where_it_holds

    parent = registry.active_version()
    examples = [Example(t.text, {"intent": t.label}) for t in generate_tickets(per_intent=4, seed=41)]
    choice = int8_where_it_holds(registry, parent, examples, max_loss_pt=100.0)
    assert choice.version == choice.int8_version != parent and "int8 serves" in choice.reason
    assert registry.manifest(choice.int8_version)["parent_version"] == parent
    assert 0.0 < choice.accuracy["fp32"] <= 1.0 and 0.0 < choice.accuracy["int8"] <= 1.0
    strict = int8_where_it_holds(registry, parent, examples, max_loss_pt=-100.0)  # int8 must gain 100 pt
    assert strict.version == parent and "does not serve" in strict.reason
