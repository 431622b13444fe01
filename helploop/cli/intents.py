"""`helploop intents suggest`: candidate new intents from recent out-of-scope and low-confidence tickets;
`helploop intents evaluate`: how well that clustering finds intents a model never saw (CLINC150)."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from shared.settings import get_settings


def _encoder(name: str | None) -> Any:
    """The knowledge base's active sentence encoder, or the named base exported on the fly."""
    from services.trainer.encoder_export import build_sentence_encoder
    from shared.registry import Registry
    from shared.runtime.encoder import SentenceEncoder

    settings = get_settings()
    registry = Registry(settings.encoder_registry_dir)
    version = registry.active_version()
    if name is not None or version is None:
        registry = Registry(settings.cache_dir / "encoders")
        kwargs = {"base": name} if name else {}
        version = build_sentence_encoder(registry, cache_dir=settings.cache_dir, activate=False, **kwargs)
    return SentenceEncoder(registry.bundle_dir(version), version=version)


def _plot(ids: list[str], embeddings: Any, suggestions: list[Any], path: Path) -> None:
    """The tickets in two dimensions (PCA), coloured by suggested intent, each labelled at its centre."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.decomposition import PCA

    points = PCA(2, random_state=0).fit_transform(np.asarray(embeddings))
    row = {ticket_id: i for i, ticket_id in enumerate(ids)}
    figure, axes = plt.subplots(figsize=(9, 7))
    axes.scatter(points[:, 0], points[:, 1], s=8, c="lightgrey", label="unclustered")
    for suggestion in suggestions[:20]:
        members = points[[row[i] for i in suggestion.ids]]
        axes.scatter(members[:, 0], members[:, 1], s=14)
        axes.annotate(f"{suggestion.name} ({suggestion.size})", members.mean(axis=0), fontsize=8)
    axes.set_title("Suggested intents (PCA of the sentence embeddings; grey: unclustered)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def cmd_suggest(args: argparse.Namespace) -> int:
    from services.trainer.intent_suggest import suggest, uncertain_tickets
    from shared.db import build_engine, build_session_factory

    factory = build_session_factory(build_engine(get_settings().database_url))
    rows = uncertain_tickets(factory, days=args.days, max_confidence=args.max_confidence, limit=args.limit)
    if len(rows) < 2 * args.min_size:
        print(f"only {len(rows)} out-of-scope or uncertain tickets in {args.days:g} days: nothing to cluster")
        return 0
    ids, texts = [r[0] for r in rows], [r[1] for r in rows]
    embeddings = _encoder(None).embed_queries(texts)
    suggestions = suggest(texts, embeddings, ids=ids, min_size=args.min_size)
    print(f"{len(rows)} tickets → {len(suggestions)} candidate intents (largest first):")
    for s in suggestions:
        print(f"\n  {s.name}  ({s.size} tickets)")
        for example in s.examples[:3]:
            print(f"    - {example.splitlines()[0][:100]}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "suggestions.json").write_text(
            json.dumps([s.__dict__ for s in suggestions], indent=2, ensure_ascii=False)
        )
        _plot(ids, embeddings, suggestions, out / "suggestions.png")
        print(f"\nwritten to {out / 'suggestions.json'} and {out / 'suggestions.png'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from services.trainer.datasets import prepare
    from services.trainer.intent_suggest import evaluate_held_out

    splits = prepare("clinc150", datasets_dir=get_settings().datasets_dir, out_dir=Path(args.data))
    rows = [json.loads(line) for line in Path(splits["test"]).read_text().splitlines() if line.strip()]
    intents = sorted({r["label"] for r in rows} - {"oos"})
    held = set(random.Random(args.seed).sample(intents, args.held_out))
    chosen = [r for r in rows if r["label"] in held]
    texts, gold = [r["text"] for r in chosen], [r["label"] for r in chosen]
    report = {"held_out": sorted(held), "seed": args.seed, "encoders": {}}
    for name in args.encoder or ["multilingual-e5-small", "minilm-l6"]:
        embeddings = _encoder(name).embed_queries(texts)
        report["encoders"][name] = evaluate_held_out(texts, gold, embeddings, seed=args.seed)
        print(name, json.dumps(report["encoders"][name]))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "intents_evaluate.json").write_text(json.dumps(report, indent=2))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("intents", help="suggest new intents from out-of-scope tickets; evaluate it")
    sub = p.add_subparsers(dest="intents_command", required=True)
    q = sub.add_parser(
        "suggest",
        help="cluster recent out-of-scope and low-confidence tickets into candidate intents",
        description="Embeds recent out-of-scope and low-confidence tickets with the knowledge base's "
        "sentence encoder, clusters them (k-means, the number of clusters by silhouette) and prints each "
        "candidate intent with its keywords, size and the tickets nearest its centre.",
    )
    q.add_argument("--days", type=float, default=30, help="tickets received in the last N days (default 30)")
    q.add_argument(
        "--max-confidence", type=float, default=0.5, help="also tickets classified below this (default 0.5)"
    )
    q.add_argument("--min-size", type=int, default=3, help="smallest cluster worth a suggestion (default 3)")
    q.add_argument("--limit", type=int, default=5000, help="newest N such tickets at most (default 5000)")
    q.add_argument("--out", help="write suggestions.json and a plot (suggestions.png) there")
    q.set_defaults(handler=cmd_suggest)
    q = sub.add_parser(
        "evaluate",
        help="hold intents out of CLINC150 and measure how well clustering finds them (NMI, ARI, accuracy)",
    )
    q.add_argument("--held-out", type=int, default=20, help="intents held out (default 20)")
    q.add_argument("--seed", type=int, default=7)
    q.add_argument(
        "--encoder",
        action="append",
        default=None,
        help="multilingual-e5-small (the knowledge base's) or minilm-l6; repeatable (default: both)",
    )
    q.add_argument("--data", default="var/data")
    q.add_argument("--out", default="var/reports/intents")
    q.set_defaults(handler=cmd_evaluate)
