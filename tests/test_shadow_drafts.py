"""Shadow generators: a candidate drafts live tickets beside the active one (real onnxruntime, the
product's encoder and database), never replaces the served draft, and is scored on the agent's reply."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.gateway.feedback.service import record_resolution
from services.inference.drafting import DraftContext, DraftOutcome, draft_reply
from services.inference.model_holder import ActiveArtifact, PinnedModels
from services.inference.shadow_drafting import ShadowDraftContext, ShadowDraftOutcome, shadow_draft
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.drafting.adoption import SENT_AS_IS
from shared.drafting.models import Draft, DraftAdoption, ShadowDraft
from shared.drafting.shadow_service import shadow_drafts_report
from shared.kb.schemas import KbArticleIn
from shared.kb.search import KnowledgeBase
from shared.kb.store import upsert_article
from shared.metrics import SHADOW_DRAFTS
from shared.registry import Registry
from shared.runtime.encoder import SentenceEncoder
from shared.runtime.generator import GenerationConfig, OnnxGenerator
from tests.test_storage import classified_ticket

ACTIVE, SHADOW = "g-active", "g-shadow"


@pytest.fixture
def contexts(sqlite_url: str, generator_registry: Registry, encoder_registry: Registry, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Two versions of the (untuned, so `allow_untuned`) SmolLM2 bundle: one active, one in shadow."""
    generators = Registry(tmp_path / "generators")
    for version in (ACTIVE, SHADOW):
        shutil.copytree(
            generator_registry.bundle_dir(generator_registry.active_version()),
            tmp_path / "generators" / version,
        )
    generators.activate(ACTIVE)
    generators.set_shadow(SHADOW)
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    with session_scope(factory) as session:
        article = (
            "A Standard parcel is late when it has not arrived 7 working days after dispatch; we trace it."
        )
        upsert_article(
            session=session,
            article=KbArticleIn(id="late-parcels", title="Late parcels", body=article),
            source="test",
        )
    encoder_version = encoder_registry.active_version()
    encoder = SentenceEncoder(encoder_registry.bundle_dir(encoder_version), version=encoder_version)

    class Knowledge:
        def get(self) -> KnowledgeBase:
            return KnowledgeBase(factory, encoder)

    load = lambda path, version: OnnxGenerator(path, version=version)  # noqa: E731
    drafts = DraftContext(
        session_factory=factory,
        generator=ActiveArtifact(generators, load, kind="generator"),
        knowledge=Knowledge(),
        generation=GenerationConfig(max_new_tokens=24, stop_strings=("<|im_end|>",)),
        allow_untuned=True,
        resample_attempts=0,
    )
    return drafts, ShadowDraftContext(drafts, generators, PinnedModels(generators, load, capacity=1))


def _shadow_drafts_counted() -> float:
    return SHADOW_DRAFTS.labels("model")._value.get() + SHADOW_DRAFTS.labels("template")._value.get()


def _resolved_before_its_shadow_draft(drafts, shadow, ticket_id: str) -> None:  # type: ignore[no-untyped-def]
    """A ticket resolved before its shadow draft was written is scored as the draft is stored."""
    factory = drafts.session_factory
    assert draft_reply(ticket_id=ticket_id, context=drafts) == DraftOutcome.DRAFTED
    reply = "We refunded you in full. Priya"
    record_resolution(
        session_factory=factory, source="api", final_labels={}, reply=reply, ticket_id=ticket_id
    )
    assert shadow_draft(ticket_id=ticket_id, context=shadow) == ShadowDraftOutcome.STORED
    with session_scope(factory) as session:
        late = session.query(ShadowDraft).filter_by(ticket_id=ticket_id).one()
        adoption = session.query(DraftAdoption).filter_by(ticket_id=ticket_id).one()
        assert late.outcome == adoption.outcome and late.chrf == adoption.chrf == late.active_chrf


def test_a_shadow_generator_drafts_beside_the_active_one_and_is_scored_on_the_agents_reply(contexts) -> None:  # type: ignore[no-untyped-def]
    drafts, shadow = contexts
    factory = drafts.session_factory
    first = classified_ticket(factory, "My parcel still hasn't arrived after 9 days. Where is it?", "Z-1")
    second = classified_ticket(factory, "Where is my order? It is two weeks late.", "Z-2")
    # nothing to shadow before the active generator has drafted the ticket
    assert shadow_draft(ticket_id=first, context=shadow) == ShadowDraftOutcome.NOT_DRAFTED
    stored = _shadow_drafts_counted()
    assert draft_reply(ticket_id=first, context=drafts) == DraftOutcome.DRAFTED
    assert shadow_draft(ticket_id=first, context=shadow) == ShadowDraftOutcome.STORED
    assert shadow_draft(ticket_id=first, context=shadow) == ShadowDraftOutcome.ALREADY_DONE
    with session_scope(factory) as session:
        served = session.query(Draft).one()  # the shadow's draft is not a draft the ticket is served
        row = session.query(ShadowDraft).one()
        assert served.generator_version == ACTIVE and row.generator_version == SHADOW
        assert row.active_version == ACTIVE and row.language == "en" and row.citations == ["late-parcels"]
        assert row.tokens > 0 and row.outcome is None  # not resolved yet
        # same weights, same prompt, greedy: the same draft — the shadow saw exactly the served prompt
        assert row.text == served.text and row.source == served.source
        served_text = served.text
    assert _shadow_drafts_counted() == stored + 1
    # the agent sends the draft as it is: both sides score it sent_as_is, chrF 100, a tie
    record_resolution(
        session_factory=factory, source="api", final_labels={}, reply=served_text, ticket_id=first
    )
    with session_scope(factory) as session:
        row = session.query(ShadowDraft).one()
        assert (row.outcome, row.active_outcome) == (SENT_AS_IS, SENT_AS_IS)
        assert (row.chrf, row.active_chrf) == (100.0, 100.0) and row.scored_at is not None
    _resolved_before_its_shadow_draft(drafts, shadow, second)
    report = shadow_drafts_report(session_factory=factory, version=SHADOW, window_days=7)
    assert report["drafted"] == 2 and report["active_versions"] == [ACTIVE] and report["paired"] == 2
    assert report["shadow"]["resolved_with_draft"] == 2 and report["ties"] == 2
    assert report["shadow"]["mean_chrf"] == report["active"]["mean_chrf"]
    assert report["per_language"]["en"]["paired"] == 2
    assert report["drafting"]["shadow"]["flagged_rate"] == report["drafting"]["active"]["flagged_rate"]
    # no shadow: nothing is drafted
    shadow.registry.set_shadow(None)
    third = classified_ticket(factory, "Has my parcel been shipped yet?", "Z-3")
    assert shadow_draft(ticket_id=third, context=shadow) == ShadowDraftOutcome.NO_SHADOW
