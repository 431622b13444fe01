"""Knowledge base over the real database and the real sentence encoder (ONNX): storage, search, API."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from helploop.cli.kb import DEMO_KB_DIR
from services.gateway.app import create_app
from shared.db import build_engine, build_session_factory, session_scope, upgrade_database
from shared.kb.importers import read_articles
from shared.kb.schemas import KbArticleIn
from shared.kb.search import KnowledgeBase
from shared.kb.store import current_revision, delete_article, pending_chunks, upsert_article
from shared.registry import Registry
from shared.runtime.encoder import SentenceEncoder
from tests.conftest import ADMIN_API_KEY, API_KEY, settings_overrides

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_API_KEY}"}  # knowledge-base writes need the admin scope
SHIPPING = KbArticleIn(
    id="shipping", title="Shipping", body="## Times\nThree to five days.\n\n## Costs\nFree."
)


def factory_for(url: str) -> sessionmaker[Session]:
    upgrade_database(url)
    return build_session_factory(build_engine(url))


@pytest.fixture(scope="module")
def encoder(encoder_registry: Registry) -> SentenceEncoder:
    version = encoder_registry.active_version()
    assert version is not None
    return SentenceEncoder(encoder_registry.bundle_dir(version), version=version)


def demo_kb_on(url: str, encoder: SentenceEncoder) -> KnowledgeBase:
    factory = factory_for(url)
    with session_scope(factory) as session:
        for article in read_articles(DEMO_KB_DIR):
            upsert_article(session=session, article=article, source="demo")
    return KnowledgeBase(factory, encoder)


@pytest.fixture
def demo_kb(sqlite_url: str, encoder: SentenceEncoder) -> KnowledgeBase:
    return demo_kb_on(sqlite_url, encoder)


@pytest.fixture(scope="module")
def searched_kb(tmp_path_factory: pytest.TempPathFactory, encoder: SentenceEncoder) -> KnowledgeBase:
    """The demo knowledge base indexed once for the tests that only search it."""
    return demo_kb_on(f"sqlite:///{tmp_path_factory.mktemp('kb') / 'helploop.db'}", encoder)


def test_upserts_bump_the_revision_only_on_change(database_url: str) -> None:
    factory = factory_for(database_url)
    with session_scope(factory) as session:
        first = upsert_article(session=session, article=SHIPPING, source="api")
        again = upsert_article(session=session, article=SHIPPING, source="api")
        assert (first.created, first.changed, first.chunks, again.changed) == (True, True, 2, False)
        assert current_revision(session) == 1
        edited = SHIPPING.model_copy(update={"body": "One paragraph only."})
        assert upsert_article(session=session, article=edited, source="api").chunks == 1
        assert current_revision(session) == 2
        assert len(pending_chunks(session=session, encoder="e1")) == 1
        assert delete_article(session=session, article_id="shipping")
        assert not delete_article(session=session, article_id="shipping")
        assert current_revision(session) == 3 and not pending_chunks(session=session, encoder="e1")


def test_exact_title_queries_find_their_article(demo_kb: KnowledgeBase) -> None:
    articles = read_articles(DEMO_KB_DIR)
    assert demo_kb.index_pending() >= len(articles)
    for article in articles:
        hits, _ = demo_kb.search(article.title, k=3)
        assert hits[0].article_id == article.id, (article.title, [h.article_id for h in hits])
        assert hits[0].score > hits[1].score


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "I returned the kettle two weeks ago and still haven't seen the money on my card",
            "refund-timelines",
        ),
        ("can't log in, it says my account is locked", "account-locked"),
        ("the mug arrived smashed in the box", "damaged-items"),
        ("my card keeps getting declined at checkout", "payment-declined"),
    ],
)
def test_customer_wording_retrieves_the_right_article(
    searched_kb: KnowledgeBase, query: str, expected: str
) -> None:
    hits, _ = searched_kb.search(query, k=3)
    assert expected in [h.article_id for h in hits[:2]], [(h.article_id, round(h.score, 3)) for h in hits]


def test_index_follows_database_changes_without_restart(demo_kb: KnowledgeBase) -> None:
    query = "Can I bring my pet llama to the warehouse open day?"
    hits, revision = demo_kb.search(query, k=1)
    assert hits[0].article_id != "llama-open-day"
    llama = KbArticleIn(
        id="llama-open-day", title="Warehouse open day", body="Pet llamas are welcome at the open day."
    )
    with session_scope(demo_kb.session_factory) as session:  # as another process (API, import) would
        upsert_article(session=session, article=llama, source="api")
    hits, newer = demo_kb.search(query, k=1)
    assert newer > revision and hits[0].article_id == "llama-open-day"
    with session_scope(demo_kb.session_factory) as session:
        delete_article(session=session, article_id="llama-open-day")
    assert demo_kb.search(query, k=1)[0][0].article_id != "llama-open-day"


def test_article_api_round_trip_and_errors(sqlite_url: str, redis_url: str, tmp_path: Path) -> None:
    upgrade_database(sqlite_url)
    overrides = settings_overrides(
        database_url=sqlite_url, redis_url=redis_url, model_registry_dir=tmp_path, kb_search_timeout_s=0.5
    )
    client = create_app(overrides).test_client()
    body = {"title": "Gift wrapping", "body": "## Options\nWe wrap any order for $3.", "tags": ["gifts"]}
    assert client.post("/v1/kb/articles", json=body, headers=AUTH).status_code == 403
    created = client.post("/v1/kb/articles", json=body, headers=ADMIN)
    assert created.status_code == 201 and created.get_json()["id"] == "gift-wrapping"
    assert client.post("/v1/kb/articles", json=body, headers=ADMIN).get_json()["changed"] is False
    view = client.get("/v1/kb/articles/gift-wrapping", headers=AUTH).get_json()
    assert (view["chunks"], view["indexed_chunks"], view["tags"]) == (1, 0, ["gifts"])
    bad = client.post("/v1/kb/articles", json={"title": "x"}, headers=ADMIN)
    assert bad.status_code == 422 and bad.get_json()["fields"][0]["field"] == "body"
    assert client.post("/v1/kb/articles", json=body).status_code == 401
    assert client.get("/v1/kb/search?q=", headers=AUTH).status_code == 422
    assert client.get("/v1/kb/search?q=wrap&k=500", headers=AUTH).status_code == 422
    no_worker = client.get("/v1/kb/search?q=wrapping", headers=AUTH)
    assert no_worker.status_code == 503 and no_worker.get_json()["error"] == "search_unavailable"
    assert client.delete("/v1/kb/articles/gift-wrapping", headers=AUTH).status_code == 403
    assert client.delete("/v1/kb/articles/gift-wrapping", headers=ADMIN).status_code == 204
    assert client.get("/v1/kb/articles/gift-wrapping", headers=AUTH).status_code == 404


TINY_KB = [  # three English articles and their Chinese twins, as separate articles
    KbArticleIn(
        id="late-parcels",
        title="Late or lost parcels",
        body="A parcel counts as late 7 working days after dispatch. We then open a trace with the "
        "carrier; if it is not found within 5 days we send a replacement or refund the order.",
    ),
    KbArticleIn(
        id="invoices",
        title="Invoices",
        body="Every order has a VAT invoice. Download it from Orders in your account, or ask us to "
        "issue it to your company name.",
    ),
    KbArticleIn(
        id="account-locked",
        title="Locked account",
        body="After 5 failed sign-ins an account is locked for 30 minutes. Reset your password from the "
        "sign-in page.",
    ),
    KbArticleIn(
        id="late-parcels-zh",
        title="包裹延误或丢失",
        body="发货后超过 7 个工作日仍未送达即视为延误，我们会联系快递公司查件；"
        "5 天内仍找不到，我们补发或退款。",
    ),
    KbArticleIn(
        id="invoices-zh",
        title="发票",
        body="每笔订单都可以开具增值税发票。您可以在账号的订单页面下载，也可以让我们开成公司抬头。",
    ),
    KbArticleIn(
        id="account-locked-zh",
        title="账号被锁定",
        body="连续 5 次登录失败后账号会被锁定 30 分钟。您可以在登录页重置密码。",
    ),
]
CROSS_LINGUAL = [
    ("我的包裹还没到，已经两周了，我要退款", "late-parcels"),
    ("请帮我开一张公司抬头的发票", "invoices"),
    ("密码输错几次后账号登不上去了", "account-locked"),
    ("my parcel still hasn't arrived after two weeks", "late-parcels"),
    ("I need an invoice with my company's name on it", "invoices"),
]


def _tiny_kb(url: str, encoder: SentenceEncoder, language: str) -> KnowledgeBase:
    factory = factory_for(url)
    with session_scope(factory) as session:
        for article in TINY_KB:
            if article.id.endswith("-zh") == (language == "zh"):
                upsert_article(session=session, article=article, source="test")
    return KnowledgeBase(factory, encoder)


@pytest.mark.parametrize("articles", ["en", "zh"])
@pytest.mark.parametrize(("query", "slug"), CROSS_LINGUAL)
def test_a_ticket_finds_its_article_in_either_language(
    sqlite_url: str, encoder: SentenceEncoder, articles: str, query: str, slug: str
) -> None:
    """The product's encoder (multilingual-e5, query:/passage:): a Chinese ticket finds the English article
    in an English-only KB and the Chinese one in a Chinese-only KB, and an English ticket likewise."""
    kb = _tiny_kb(sqlite_url, encoder, articles)
    hits, _ = kb.search(query, k=3)
    expected = slug if articles == "en" else f"{slug}-zh"
    assert hits[0].article_id == expected, [(h.article_id, round(h.score, 3)) for h in hits]
    assert hits[0].score >= encoder.min_relevance  # good enough to be put into a draft's prompt
