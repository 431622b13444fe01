"""`helploop kb build-encoder | import PATH | search QUERY`: the knowledge base from the command line;
`helploop kb-eval`: bilingual retrieval recall of the KB sentence encoder on the demo knowledge base."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.settings import get_settings

DEMO_KB_DIR = Path(__file__).resolve().parents[2] / "shared" / "kb" / "demo_articles"
DEMO_KB_DIRS = (DEMO_KB_DIR, DEMO_KB_DIR.with_name("demo_articles_zh"))  # English and their Chinese twins


def ensure_encoder() -> str:
    """The active sentence encoder's version, exporting it first when there is none (needs torch)."""
    from shared.registry import Registry

    settings = get_settings()
    registry = Registry(settings.encoder_registry_dir)
    version = registry.active_version()
    if version is None:
        from services.trainer.encoder_export import build_sentence_encoder

        base = str(settings.base_encoder_dir) if settings.base_encoder_dir else settings.kb_encoder
        version = build_sentence_encoder(registry, base=base, cache_dir=settings.cache_dir)
    return version


def _knowledge_base(database_url: str | None = None):  # type: ignore[no-untyped-def]
    from shared.db import build_engine, build_session_factory
    from shared.kb.search import KnowledgeBase
    from shared.registry import Registry
    from shared.runtime.encoder import SentenceEncoder

    settings = get_settings()
    version = ensure_encoder()
    encoder = SentenceEncoder(Registry(settings.encoder_registry_dir).bundle_dir(version), version=version)
    return KnowledgeBase(build_session_factory(build_engine(database_url or settings.database_url)), encoder)


def demo_knowledge_base(directory: Path):  # type: ignore[no-untyped-def]
    """The demo shop's articles (both languages) in a fresh SQLite database under `directory`, searched
    by the active encoder exactly as the drafting workers search the team's knowledge base."""
    from shared.db import upgrade_database

    url = f"sqlite:///{directory / 'demo_kb.db'}"
    upgrade_database(url)
    for path in DEMO_KB_DIRS:
        import_articles(path, index=False, database_url=url)
    knowledge = _knowledge_base(url)
    knowledge.index_pending()
    return knowledge


def import_articles(path: Path, *, index: bool = True, database_url: str | None = None) -> dict[str, int]:
    from shared.db import build_engine, build_session_factory, session_scope
    from shared.kb.importers import read_articles
    from shared.kb.store import upsert_article

    articles = read_articles(path)
    factory = build_session_factory(build_engine(database_url or get_settings().database_url))
    counts = {"articles": len(articles), "created": 0, "changed": 0, "unchanged": 0, "indexed_chunks": 0}
    with session_scope(factory) as session:
        for article in articles:
            result = upsert_article(session=session, article=article, source=path.name[:200])
            counts["created"] += result.created
            counts["changed"] += result.changed and not result.created
            counts["unchanged"] += not result.changed
    if index:
        counts["indexed_chunks"] = _knowledge_base(database_url).index_pending()
    return counts


def cmd_kb_build_encoder(args: argparse.Namespace) -> int:
    print(ensure_encoder())
    return 0


def cmd_kb_import(args: argparse.Namespace) -> int:
    paths = DEMO_KB_DIRS if args.demo else (Path(args.path),)
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        print(json.dumps({"source": path.name, **import_articles(path, index=not args.no_index)}))
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    hits, revision = _knowledge_base().search(args.query, k=args.k)
    for hit in hits:
        print(f"{hit.score:.3f}  {hit.article_id:32}  {hit.title} — {hit.heading}".rstrip(" —"))
    print(f"(revision {revision})")
    return 0


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from services.trainer.kb_eval import ENCODERS, encoder_pair
    from shared.kb.retrieval_eval import demo_passages, evaluate, format_table, load_eval_set

    queries = load_eval_set(Path(args.set))
    passages = demo_passages(chunked=args.passages == "chunks")
    runs = [(name, True) for name in ENCODERS] if args.encoder == "all" else [(args.encoder, True)]
    if args.encoder in ("all", "multilingual-e5-small") and args.e5_without_prefixes:
        runs.append(("multilingual-e5-small", False))
    results = {}
    for name, prefixes in runs:
        embed_queries, embed_passages, label = encoder_pair(
            name, settings=get_settings(), prefixes=prefixes, torch=args.torch
        )
        results[label] = evaluate(embed_queries, embed_passages, queries=queries, passages=passages)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"set": str(args.set), "queries": len(queries), "passages": args.passages, "results": results}
    (out / "kb_eval.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(format_table(results))
    print(f"({len(queries)} queries, {len(passages)} {args.passages}; written to {out / 'kb_eval.json'})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("kb", help="knowledge base: build the encoder, import articles, search")
    sub = p.add_subparsers(dest="kb_command", required=True)
    q = sub.add_parser("build-encoder", help="export the sentence encoder to ONNX (cached by weights hash)")
    q.set_defaults(handler=cmd_kb_build_encoder)
    q = sub.add_parser("import", help="import Markdown/JSON/CSV articles (a file or a directory)")
    source = q.add_mutually_exclusive_group(required=True)
    source.add_argument("path", nargs="?")
    source.add_argument(
        "--demo", action="store_true", help="the demo shop's knowledge base (English and Chinese articles)"
    )
    q.add_argument("--no-index", action="store_true", help="store only; workers embed on their next search")
    q.set_defaults(handler=cmd_kb_import)
    q = sub.add_parser("search", help="search the knowledge base in this process")
    q.add_argument("query")
    q.add_argument("-k", type=int, default=5)
    q.set_defaults(handler=cmd_kb_search)
    p = commands.add_parser("kb-eval", help="bilingual KB retrieval recall@1/@3 of the sentence encoder")
    p.add_argument(
        "--encoder",
        choices=["minilm-l6", "multilingual-e5-small", "all"],
        default="all",
        help="the KB encoder bundle as workers run it (exported ONNX; built on first use); default all",
    )
    p.add_argument("--torch", action="store_true", help="the fp32 PyTorch encoder instead of the ONNX bundle")
    p.add_argument(
        "--set",
        default=str(DEMO_KB_DIR.parent / "eval" / "demo_bilingual.jsonl"),
        help="labelled JSONL: query, language (en/zh), article (English slug); default the demo set",
    )
    p.add_argument(
        "--passages",
        choices=["chunks", "articles"],
        default="chunks",
        help="KB chunks scored by the best one, as search does (default), or one passage per whole article",
    )
    p.add_argument(
        "--e5-without-prefixes",
        action="store_true",
        help="also run multilingual-e5-small without its query:/passage: prefixes",
    )
    p.add_argument("--out", default="var/reports/kb", help="directory for kb_eval.json")
    p.set_defaults(handler=cmd_kb_eval)
