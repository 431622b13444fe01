"""Candidate new intents from out-of-scope tickets: real sentence encoder, real database."""

from __future__ import annotations

import numpy as np

from services.trainer.intent_suggest import UNCLUSTERED, by_language, cluster, suggest, uncertain_tickets
from shared.db import build_engine, build_session_factory, upgrade_database
from shared.registry import Registry
from shared.runtime.encoder import SentenceEncoder
from tests.test_storage import classified_ticket, stored_ticket

PLANTED = {
    "gift_wrap": [
        "Can you gift wrap my order?",
        "Do you offer gift wrapping for presents?",
        "I'd like the parcel wrapped as a gift please",
        "Is gift wrapping available at checkout?",
        "能帮我把订单包装成礼物吗？",
        "可以提供礼品包装吗",
        "送朋友的礼物，能加个礼盒包装吗？",
        "结账的时候可以选礼品包装吗",
    ],
    "store_hours": [
        "What time does your shop in Leeds open on Sunday?",
        "Are your stores open on bank holidays?",
        "When does the Manchester store close tonight?",
        "What are the opening hours of your London shop?",
        "你们门店周日几点开门？",
        "线下门店营业时间是几点到几点",
        "国庆节期间实体店营业吗？",
        "上海的门店今晚几点关门",
    ],
    "bulk_order": [
        "We want to order 500 mugs for our company, is there a discount?",
        "Do you sell in bulk to businesses?",
        "Can I get a quote for 200 units for our office?",
        "Is there a wholesale price for large orders?",
        "公司想批量采购300件，有优惠吗？",
        "大宗订单可以开企业报价吗",
        "我们单位要团购200个杯子，能给批发价吗？",
        "企业大批量订货有没有折扣",
    ],
}


def _encoder(encoder_registry: Registry) -> SentenceEncoder:
    version = encoder_registry.active_version()
    return SentenceEncoder(encoder_registry.bundle_dir(version), version=version)


def test_planted_intents_come_back_as_pure_clusters_named_by_their_words(encoder_registry: Registry) -> None:
    texts = [t for group in PLANTED.values() for t in group]
    gold = [name for name, group in PLANTED.items() for _ in group]
    embeddings = _encoder(encoder_registry).embed_queries(texts)
    languages, labels = by_language(texts, embeddings, min_size=3)
    assert len(set(labels.tolist()) - {UNCLUSTERED}) == 6  # three per language
    for k in set(labels.tolist()) - {UNCLUSTERED}:  # no cluster mixes two intents or two languages
        members = [(g, lang) for g, lang, label in zip(gold, languages, labels, strict=True) if label == k]
        assert len(set(members)) == 1, members
    suggestions = suggest(texts, embeddings, min_size=3)
    assert sorted(s.size for s in suggestions) == [4] * 6 and {s.language for s in suggestions} == {
        "en",
        "zh",
    }
    named = {s.name: s for s in suggestions}
    assert any("gift" in name for name in named) and any("bulk" in n or "order" in n for n in named), named


def test_only_recent_out_of_scope_or_uncertain_tickets_are_clustered(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    factory = build_session_factory(build_engine(sqlite_url))
    ids = {
        "Z-1": classified_ticket(factory, "ticket Z-1", "Z-1", label="out_of_scope", out_of_scope=True),
        "Z-2": classified_ticket(factory, "ticket Z-2", "Z-2", label="refund_request", confidence=0.3),
        "Z-3": classified_ticket(factory, "ticket Z-3", "Z-3", label="refund_request", confidence=0.95),
        "Z-4": stored_ticket(factory, "ticket Z-4", external_id="Z-4"),  # not classified yet
    }
    found = uncertain_tickets(factory, days=1, max_confidence=0.5, limit=10)
    assert {ticket_id for ticket_id, _ in found} == {ids["Z-1"], ids["Z-2"]}
    assert uncertain_tickets(factory, days=1, max_confidence=0.5, limit=1) == found[:1]
    assert np.all(cluster(np.eye(2), min_size=3) == UNCLUSTERED)  # too few to cluster: nothing suggested
