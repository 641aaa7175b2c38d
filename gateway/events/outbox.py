"""The gateway's side of the event outbox (``consent.notifications``): claiming due events, recording each
delivery attempt, and replaying (docs/architecture.md section 7).

Claim: one transaction selects the due events (``pending``, ``next_attempt_at`` passed, no live lease) whose
TPP has no earlier event still pending, oldest first, and sets a lease on them. On PostgreSQL the select is
``FOR UPDATE SKIP LOCKED``: concurrent workers on other replicas skip the rows one of them is claiming, and the
lease keeps them off the rows afterwards, so each event is pushed by one worker at a time; a worker that dies
leaves a lease that runs out, and the event is claimed again (at least once, always with the same ``jti``).
SQLite has one writer at a time and ignores ``FOR UPDATE``; the conditional lease update decides there.
The "no earlier pending event" rule keeps each TPP's events in order: a retried event holds back the later ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import update
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel import select

from consent.notifications import DeliveryState
from consent.notifications import EventNotification
from gateway.store.db import Database
from gateway.store.event_tables import EventDeliveryAttempt

E = EventNotification
PENDING = DeliveryState.PENDING.value
# In last_error until the next attempt: that attempt is logged as a replay.
REPLAY_MARK = "replay requested"


async def claim_due(*, db: Database, now: datetime, lease: timedelta, limit: int) -> list[EventNotification]:
    earlier = aliased(EventNotification)
    held_back = exists().where(
        col(earlier.client_id) == col(E.client_id), col(earlier.state) == PENDING, col(earlier.seq) < col(E.seq)
    )
    free = or_(col(E.lease_until).is_(None), col(E.lease_until) < now)
    query = (
        select(E)
        .where(col(E.state) == PENDING, col(E.next_attempt_at) <= now, free, ~held_back)
        .order_by(col(E.seq))
        .limit(limit)
        .with_for_update(skip_locked=True, of=E)  # type: ignore[arg-type]
    )
    until = now + lease
    async with db.session() as session:
        rows = list((await session.exec(query)).all())
        claimed: list[EventNotification] = []
        for row in rows:
            result = await session.exec(
                update(E).where(and_(col(E.seq) == row.seq, col(E.state) == PENDING, free))
                .values(lease_until=until).execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                row.lease_until = until
                claimed.append(row)
        await session.commit()
    return claimed


async def finish(
    *, db: Database, event: EventNotification, state: DeliveryState, attempts: int, next_attempt_at: datetime,
    delivered_at: datetime | None, error: str, attempt: EventDeliveryAttempt | None,
) -> None:
    """Store the outcome of a push (the event's state and, for a real attempt, its log row) in one transaction,
    only while the worker's lease is still the event's."""
    async with db.session() as session:
        await session.exec(
            update(E).where(col(E.seq) == event.seq, col(E.lease_until) == event.lease_until)
            .values(state=state.value, attempts=attempts, next_attempt_at=next_attempt_at, lease_until=None,
                    delivered_at=delivered_at, last_error=error[:512])
            .execution_options(synchronize_session=False)
        )
        if attempt is not None:
            session.add(attempt)
        await session.commit()


async def replay(
    *, db: Database, now: datetime, client_id: str | None = None, jti: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> list[str]:
    """Make events due again (same ``jti``), for one TPP or all; by id or by time of event. Their log stays."""
    query = select(E.jti, E.client_id)
    if jti is not None:
        query = query.where(col(E.jti) == jti)
    if client_id is not None:
        query = query.where(col(E.client_id) == client_id)
    if since is not None:
        query = query.where(col(E.occurred_at) >= since)
    if until is not None:
        query = query.where(col(E.occurred_at) <= until)
    async with db.session() as session:
        jtis = [row[0] for row in (await session.exec(query)).all()]
        if jtis:
            await session.exec(
                update(E).where(col(E.jti).in_(jtis))
                .values(state=PENDING, attempts=0, next_attempt_at=now, lease_until=None, last_error=REPLAY_MARK)
                .execution_options(synchronize_session=False)
            )
        await session.commit()
    return jtis


async def delivery_log(
    *, db: Database, client_id: str | None = None, limit: int = 100
) -> list[dict[str, object]]:
    """Each event (newest first) with its state and every attempt: what ``obgw events log`` and the TPP see."""
    query = select(E).order_by(col(E.seq).desc()).limit(limit)
    if client_id is not None:
        query = query.where(col(E.client_id) == client_id)
    async with db.session() as session:
        events: Sequence[EventNotification] = (await session.exec(query)).all()
        attempts = (
            await session.exec(
                select(EventDeliveryAttempt)
                .where(col(EventDeliveryAttempt.jti).in_([e.jti for e in events]))
                .order_by(col(EventDeliveryAttempt.attempt_id))
            )
        ).all() if events else []
    by_jti: dict[str, list[dict[str, object]]] = {}
    for a in attempts:
        by_jti.setdefault(a.jti, []).append({
            "at": a.at.isoformat(), "channel": a.channel, "url": a.url, "outcome": a.outcome,
            "status_code": a.status_code, "latency_ms": a.latency_ms, "error": a.error, "replay": a.replay,
        })
    return [
        {
            "jti": e.jti, "client_id": e.client_id, "event_type": e.event_type, "resource_type": e.resource_type,
            "resource_id": e.resource_id, "occurred_at": e.occurred_at.isoformat(), "state": e.state,
            "attempts": e.attempts, "next_attempt_at": e.next_attempt_at.isoformat(), "last_error": e.last_error,
            "delivered_at": e.delivered_at.isoformat() if e.delivered_at else None,
            "log": by_jti.get(e.jti, []),
        }
        for e in events
    ]
