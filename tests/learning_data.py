"""Test data for the learning loop: tickets of an intent the demo model has never seen (privacy requests)."""

from __future__ import annotations

import csv
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from helploop.bench.harness import clone_version
from helploop.bench.reclassify import store_backlog as store_tickets
from shared.db import session_scope
from shared.integrations.models import Resolution
from shared.registry import Registry
from shared.tickets.models import Ticket

__all__ = ["clone_version", "store_tickets"]

NEW_INTENT = "privacy_request"
NEW_LABELS = {"label": NEW_INTENT, "sentiment": "neutral", "priority": "normal"}
_OPENINGS = ("Hi,", "Hello there,", "Dear team,", "Good morning,", "", "To whom it may concern:")
_ASKS = (
    "under GDPR article {article} I request a copy of all personal data you hold about me",
    "please send me an export of every piece of personal information stored on my profile ({ref})",
    "I want you to erase all my personal data from your systems - reference {ref}",
    "which third parties have you shared my personal data with? This is a data subject access request",
    "I withdraw my consent to processing of my personal data, please confirm in writing ({ref})",
    "according to your privacy policy I can ask what data you store about me; please tell me",
    "kindly delete the personal data linked to my e-mail address and confirm the erasure (case {ref})",
    "I am making a subject access request under article {article} GDPR for all records about me",
)
_CLOSINGS = (
    "Thanks.",
    "Regards",
    "I expect an answer within one month as the law requires.",
    "",
    "Best, {name}",
)
_NAMES = ("Ana", "Ben", "Chloe", "Dmitri", "Eva", "Farid", "Greta", "Hiro")


def new_intent_texts(count: int, *, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts: set[str] = set()
    while len(texts) < count:
        ref = f"DSR-{rng.randint(1000, 9999)}"
        ask = rng.choice(_ASKS).format(ref=ref, article=rng.choice((15, 17, 20, 21)))
        closing = rng.choice(_CLOSINGS).format(name=rng.choice(_NAMES))
        texts.add(" ".join(part for part in (rng.choice(_OPENINGS), ask, closing) if part))
    return sorted(texts)


def copy_active(source: Registry, root: Path) -> Registry:
    """A private registry holding a copy of `source`'s active bundle, active (tests may change it)."""
    version = source.active_version()
    assert version is not None
    registry = Registry(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source.bundle_dir(version), root / version)
    registry.activate(version)
    return registry


def seed_resolutions(
    session_factory: Any, texts: list[str], labels: dict[str, str], *, start: datetime
) -> None:
    """Stored tickets with agents' final labels, resolved one second apart from `start`."""
    with session_scope(session_factory) as session:
        for i, text in enumerate(texts):
            ticket = Ticket(
                source="api",
                event_id=f"seed-{start.timestamp()}-{i}",
                external_id=f"seed-{i}",
                subject="",
                body=text,
                channel="email",
                created_at=start,
            )
            session.add(ticket)
            session.flush()
            at = start + timedelta(seconds=i)
            session.add(
                Resolution(ticket_id=ticket.id, source="api", final_labels=labels, text=text, resolved_at=at)
            )


def shuffled_labels(source: Path, target: Path, *, seed: int = 0) -> Path:
    """A copy of a CSV training file with every label column permuted: a deliberately bad dataset."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(seed)
    for column in ("label", "sentiment", "priority"):
        values = [row[column] for row in rows]
        rng.shuffle(values)
        for row, value in zip(rows, values, strict=True):
            row[column] = value
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target
