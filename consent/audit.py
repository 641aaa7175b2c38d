"""The consent audit trail: an append-only SHA-256 hash chain.

Each event's ``hash = sha256(prev_hash || canonical_json(fields))`` where the fields are seq, consent id, event,
actor, time and detail, and the first event's ``prev_hash`` is the fixed ``GENESIS``. Changing, removing or
reordering any stored event breaks the chain at that point, which ``verify_chain`` reports (the CLI
``obgw audit verify`` prints it).

Concurrency: appenders first update the single ``consent_audit_head`` row, which takes the row lock on
PostgreSQL and the database write lock on SQLite, so every appender reads the true head inside its own
transaction and two of them can never link to the same predecessor. ``seq`` and ``prev_hash`` are unique as a
second guard: a fork fails to commit rather than being stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from enum import StrEnum
from typing import Any
from typing import Final
from typing import Literal

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent.models import AuditHead
from consent.models import ConsentEvent

GENESIS: Final = "0" * 64


class EventType(StrEnum):
    CREATED = "created"
    AUTHORISED = "authorised"
    REAUTHORISED = "reauthorised"
    REJECTED = "rejected"
    REVOKED = "revoked"
    CONSUMED = "consumed"
    EXPIRED = "expired"
    DELETED = "deleted"
    ACCESSED = "accessed"


class ActorType(StrEnum):
    TPP = "tpp"
    CUSTOMER = "customer"
    SYSTEM = "system"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no white space, UTF-8: one byte string per value. Non-JSON values raise (fail closed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime in an audit event")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    consent_id: str,
    event: str,
    actor_type: str,
    actor_id: str,
    at: datetime,
    detail: Mapping[str, Any],
) -> str:
    fields = {
        "seq": seq,
        "consent_id": consent_id,
        "event": event,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "at": _iso(at),
        "detail": dict(detail),
    }
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(fields)).hexdigest()


def _row_hash(row: ConsentEvent) -> str:
    return event_hash(
        prev_hash=row.prev_hash,
        seq=row.seq,
        consent_id=row.consent_id,
        event=row.event,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        at=row.at,
        detail=row.detail,
    )


async def _lock_head(session: AsyncSession, *, count: int = 1) -> AuditHead:
    """Advance the head's seq by ``count`` (taking the write lock) and return the head as this transaction sees
    it: the events to append take the seqs ``head.seq - count + 1 .. head.seq``."""
    bump = update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + count)
    result = await session.exec(bump.execution_options(synchronize_session=False))
    if result.rowcount == 0:
        # First event ever. A concurrent first appender makes one of the two inserts fail on the primary key:
        # that transaction rolls back rather than forking the chain.
        session.add(AuditHead(id=1, seq=count, hash=GENESIS))
        await session.flush()
    head = (await session.exec(select(AuditHead).where(AuditHead.id == 1))).one()
    await session.refresh(head)
    return head


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    consent_id: str
    event: EventType
    actor_type: ActorType
    actor_id: str
    at: datetime
    detail: Mapping[str, Any] | None = None


async def append_events(*, session: AsyncSession, events: Sequence[NewEvent]) -> list[ConsentEvent]:
    """Append several events in order in the caller's transaction, taking the chain's lock once."""
    if not events:
        return []
    details = [dict(e.detail or {}) for e in events]
    for detail in details:
        canonical_json(detail)  # reject non-JSON detail before taking the lock
    head = await _lock_head(session, count=len(events))
    seq, prev_hash = head.seq - len(events) + 1, head.hash
    rows: list[ConsentEvent] = []
    for new, detail in zip(events, details, strict=True):
        digest = event_hash(
            prev_hash=prev_hash,
            seq=seq,
            consent_id=new.consent_id,
            event=new.event,
            actor_type=new.actor_type,
            actor_id=new.actor_id,
            at=new.at,
            detail=detail,
        )
        rows.append(ConsentEvent(
            seq=seq,
            consent_id=new.consent_id,
            event=new.event.value,
            actor_type=new.actor_type.value,
            actor_id=new.actor_id,
            at=new.at,
            detail=detail,
            prev_hash=prev_hash,
            hash=digest,
        ))
        seq, prev_hash = seq + 1, digest
    session.add_all(rows)
    head.hash = prev_hash
    session.add(head)
    await session.flush()
    return rows


async def append_event(
    *,
    session: AsyncSession,
    consent_id: str,
    event: EventType,
    actor_type: ActorType,
    actor_id: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> ConsentEvent:
    """Append one event in the caller's transaction (the caller commits, together with the state change)."""
    new = NewEvent(consent_id=consent_id, event=event, actor_type=actor_type, actor_id=actor_id, at=at, detail=detail)
    return (await append_events(session=session, events=[new]))[0]


BreakReason = Literal["altered", "removed", "reordered"]


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    """``ok`` with the number of events checked, or the first broken link: its seq and why."""

    ok: bool
    events: int
    seq: int | None = None
    reason: BreakReason | None = None
    message: str = ""


def _broken(events: int, seq: int, reason: BreakReason, message: str) -> AuditReport:
    return AuditReport(ok=False, events=events, seq=seq, reason=reason, message=message)


async def verify_chain(*, session: AsyncSession) -> AuditReport:
    """Walk the chain from the genesis and report the first link that does not hold."""
    # populate_existing: verify what is stored, never objects this session cached earlier.
    fresh = {"populate_existing": True}
    rows = list(
        (await session.exec(select(ConsentEvent).order_by(ConsentEvent.seq).execution_options(**fresh))).all()  # type: ignore[arg-type]
    )
    head = (await session.exec(select(AuditHead).where(AuditHead.id == 1).execution_options(**fresh))).first()
    stored_hashes = {row.hash: row.seq for row in rows}
    expected_prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return _broken(len(rows), expected_seq, "removed", f"event {expected_seq} is missing")
        if row.prev_hash != expected_prev:
            if row.prev_hash in stored_hashes and stored_hashes[row.prev_hash] != expected_seq - 1:
                return _broken(
                    len(rows),
                    row.seq,
                    "reordered",
                    f"event {row.seq} links to event {stored_hashes[row.prev_hash]}, not {expected_seq - 1}",
                )
            if expected_seq == 1:
                return _broken(len(rows), 1, "altered", "event 1 does not start from the genesis")
            # The predecessor's content and hash were both rewritten: its hash no longer matches this link.
            return _broken(
                len(rows),
                expected_seq - 1,
                "altered",
                f"event {expected_seq - 1} does not match the hash event {row.seq} recorded for it",
            )
        if _row_hash(row) != row.hash:
            return _broken(len(rows), row.seq, "altered", f"event {row.seq} does not match its hash")
        expected_prev = row.hash
    if head is None:
        if rows:
            return _broken(len(rows), len(rows), "altered", "the chain head is missing")
        return AuditReport(ok=True, events=0)
    if head.seq > len(rows):
        return _broken(len(rows), len(rows) + 1, "removed", f"events {len(rows) + 1} to {head.seq} are missing")
    if head.seq != len(rows) or head.hash != expected_prev:
        return _broken(len(rows), head.seq, "altered", "the chain head does not match the last event")
    return AuditReport(ok=True, events=len(rows))
