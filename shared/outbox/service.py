"""Outbox operations: keyword-only functions over a session factory and a `publish` callable.

Order: the relay publishes pending messages by id. The intake publishes its own message at once only
when no older message is waiting (older than `backlog_grace_s`, which lets concurrent requests overlap),
so after an outage new tickets queue up behind the backlog instead of overtaking it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.celery_app import queue_of
from shared.db import session_scope
from shared.db.base import new_id, utcnow
from shared.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED
from shared.outbox.models import Lease, OutboxMessage
from shared.outbox.sent_log import SentLog
from shared.tickets.lifecycle import tickets_queued_by

log = logging.getLogger(__name__)
Publish = Callable[[str, list[Any]], None]  # task name, args (the queue: the routes table's)
CLAIM_S = 15.0  # a claim older than this belongs to a publisher that died


def _backlog(session: Session, older_than: datetime) -> bool:
    query = select(OutboxMessage.id).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.created_at < older_than
    )
    return session.scalar(query.limit(1)) is not None


def add_message(
    session: Session,
    *,
    task: str,
    args: list[Any],
    queue: str | None = None,
    claim: bool = False,
    backlog_grace_s: float = 1.0,
    no_backlog: bool = False,
) -> OutboxMessage:
    """Stage a message in the caller's transaction: it exists exactly when the caller's rows do.

    `claim=True` reserves it for `publish_claimed` right after the commit, unless older messages are
    still waiting (then the relay publishes it after them); `no_backlog` (the caller's relay saw none a
    moment ago: `OutboxRelay.no_backlog`) skips that query."""
    now = utcnow()
    message = OutboxMessage(task=task, args=args, queue=queue or queue_of(task), created_at=now, attempts=0)
    if claim and (no_backlog or not _backlog(session, now - timedelta(seconds=backlog_grace_s))):
        message.claim, message.claimed_until = new_id(), now + timedelta(seconds=CLAIM_S)
    session.add(message)
    return message


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)


def mark_sent(*, session_factory: sessionmaker[Session], messages: Sequence[OutboxMessage]) -> None:
    """In one transaction: the messages are sent, and their tickets queued (`shared.tickets.lifecycle`);
    the relay's publishes, a request's own, or what a relay's `SentLog` collected."""
    if not messages:
        return
    with session_scope(session_factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([m.id for m in messages]))
            .values(
                sent_at=utcnow(), claimed_until=None, attempts=OutboxMessage.attempts + 1, last_error=None
            )
            .execution_options(synchronize_session=False)
        )
        tickets_queued_by(session, messages)


def _release(
    session_factory: sessionmaker[Session], ids: list[int], failed_id: int | None, error: str
) -> None:
    """Give claimed messages back (the failed one with its error); the relay tries them again."""
    with session_scope(session_factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(claimed_until=None, claim=None)
            .execution_options(synchronize_session=False)
        )
        if failed_id is not None:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == failed_id)
                .values(attempts=OutboxMessage.attempts + 1, last_error=error[:2000])
                .execution_options(synchronize_session=False)
            )


def publish_claimed(
    *,
    session_factory: sessionmaker[Session],
    publish: Publish,
    message: OutboxMessage,
    sent: SentLog | None = None,
) -> bool:
    """Publish a committed message claimed by `add_message` (the intake's fast path). False leaves it to
    the relay: it was not claimed (older messages wait) or the broker refused. With `sent` (a running
    relay's log) the message is marked sent by the relay's next flush instead of a second transaction
    here: the request answers after one commit and one publish."""
    if message.claim is None:
        return False
    try:
        publish(message.task, list(message.args))
    except Exception as exc:
        log.warning("outbox message %s not published (%s); the relay will retry", message.id, exc)
        _release(session_factory, [message.id], message.id, f"{type(exc).__name__}: {exc}")
        return False
    if sent is None:
        mark_sent(session_factory=session_factory, messages=[message])
    else:
        sent.add(message)
    OUTBOX_PUBLISHED.labels("inline").inc()
    return True


@dataclass(frozen=True)
class RelayPass:
    sent: int
    claimed: int
    error: str | None = None


def _claim_batch(session_factory: sessionmaker[Session], batch: int) -> list[OutboxMessage]:
    now, token = utcnow(), new_id()
    pending = and_(OutboxMessage.sent_at.is_(None), _free(now))
    oldest = select(OutboxMessage.id).where(pending).order_by(OutboxMessage.id).limit(batch)
    with session_scope(session_factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(oldest), pending)
            .values(claimed_until=now + timedelta(seconds=CLAIM_S), claim=token)
            .execution_options(synchronize_session=False)
        )
        query = select(OutboxMessage).where(OutboxMessage.claim == token, OutboxMessage.sent_at.is_(None))
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def relay_pending(
    *,
    session_factory: sessionmaker[Session],
    publish: Publish,
    batch: int = 200,
) -> RelayPass:
    """Publish the oldest pending messages in id order; stop at the first refusal (order is kept)."""
    messages = _claim_batch(session_factory, batch)
    sent: list[OutboxMessage] = []
    for message in messages:
        try:
            publish(message.task, list(message.args))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            mark_sent(session_factory=session_factory, messages=sent)
            _release(session_factory, [m.id for m in messages[len(sent) :]], message.id, error)
            OUTBOX_PUBLISHED.labels("relay").inc(len(sent))
            return RelayPass(len(sent), len(messages), error)
        sent.append(message)
    mark_sent(session_factory=session_factory, messages=sent)
    OUTBOX_PUBLISHED.labels("relay").inc(len(sent))
    return RelayPass(len(sent), len(messages))


def pending_counts(*, session_factory: sessionmaker[Session]) -> tuple[int, int]:
    """(messages not sent yet, those of them no live publisher holds: the relay's work), in one read;
    the first is the pending gauge."""
    free = func.count().filter(_free(utcnow()))
    query = select(func.count(), free).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    with session_scope(session_factory) as session:
        pending, waiting = session.execute(query).one()
    OUTBOX_PENDING.set(pending)
    return int(pending), int(waiting)


def count_pending(*, session_factory: sessionmaker[Session]) -> int:
    """Messages not sent yet (the pending gauge set)."""
    return pending_counts(session_factory=session_factory)[0]


def purge_sent(*, session_factory: sessionmaker[Session], older_than_s: float) -> int:
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with session_scope(session_factory) as session:
        result = session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def hold_lease(*, session_factory: sessionmaker[Session], name: str, holder: str, ttl_s: float) -> bool:
    """Take or renew the lease `name` for `ttl_s`; False while another live holder has it."""
    now = utcnow()
    with session_scope(session_factory) as session:
        renewed = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=now + timedelta(seconds=ttl_s))
            .execution_options(synchronize_session=False)
        )
        if renewed.rowcount == 1:  # type: ignore[attr-defined]
            return True
    try:
        with session_scope(session_factory) as session:
            session.add(Lease(name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_s)))
        return True
    except IntegrityError:
        return False
