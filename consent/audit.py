"""The consent audit trail: an append-only SHA-256 hash chain.

Each event's ``hash = sha256(prev_hash || canonical_json(fields))`` where the fields are seq, consent id, event,
actor, time and detail, and the first event's ``prev_hash`` is the fixed ``GENESIS``. Changing, removing or
reordering any stored event breaks the chain at that point, which ``verify_chain`` reports (the CLI
``obgw audit verify`` prints it).

Retention (docs/architecture.md section 8.2): ``consent.audit_retention`` may delete the chain's oldest events, a
prefix ``1..N`` only, and records a checkpoint holding event N's seq and hash. Verification then starts from the
latest checkpoint instead of the genesis: the first kept event must be N + 1 and link to that hash, so removing
any kept event (or more old ones than a checkpoint says) still breaks the chain. Checkpoints are hash-chained the
same way, so an altered or removed checkpoint is reported too.

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

from consent.models import AuditCheckpoint
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
    ACCOUNTS_CHANGED = "accounts_changed"


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
    pruned_through: int = 0  # events 1..pruned_through were pruned (the latest checkpoint); 0: none
    seq: int | None = None
    reason: BreakReason | None = None
    message: str = ""


def _broken(events: int, seq: int, reason: BreakReason, message: str, pruned_through: int = 0) -> AuditReport:
    return AuditReport(ok=False, events=events, seq=seq, reason=reason, message=message,
                       pruned_through=pruned_through)


def checkpoint_hash(
    *,
    prev_hash: str,
    checkpoint_id: int,
    through_seq: int,
    through_hash: str,
    through_at: datetime,
    before: datetime,
    pruned: int,
    created_at: datetime,
) -> str:
    """A checkpoint's link, built like an event's: ``sha256(prev_hash || canonical_json(fields))``."""
    fields = {
        "id": checkpoint_id,
        "through_seq": through_seq,
        "through_hash": through_hash,
        "through_at": _iso(through_at),
        "before": _iso(before),
        "pruned": pruned,
        "created_at": _iso(created_at),
    }
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(fields)).hexdigest()


def _checkpoint_row_hash(row: AuditCheckpoint) -> str:
    return checkpoint_hash(prev_hash=row.prev_hash, checkpoint_id=row.id, through_seq=row.through_seq,
                           through_hash=row.through_hash, through_at=row.through_at, before=row.before,
                           pruned=row.pruned, created_at=row.created_at)


def _checkpoints_broken(rows: Sequence[AuditCheckpoint]) -> str | None:
    """Why the checkpoints (ordered by id) do not hold, or ``None``."""
    prev_hash, prev_through = GENESIS, 0
    for expected_id, row in enumerate(rows, start=1):
        if row.id != expected_id:
            return f"checkpoint {expected_id} is missing"
        if row.prev_hash != prev_hash or _checkpoint_row_hash(row) != row.hash:
            return f"checkpoint {row.id} does not match its hash or its predecessor"
        if row.through_seq <= prev_through:
            return f"checkpoint {row.id} does not come after checkpoint {row.id - 1}"
        prev_hash, prev_through = row.hash, row.through_seq
    return None


async def checkpoints(*, session: AsyncSession) -> list[AuditCheckpoint]:
    """Every pruning checkpoint, oldest first, as stored."""
    query = select(AuditCheckpoint).order_by(AuditCheckpoint.id).execution_options(populate_existing=True)  # type: ignore[arg-type]
    return list((await session.exec(query)).all())


async def verify_chain(*, session: AsyncSession) -> AuditReport:
    """Walk the chain from the genesis, or from the latest pruning checkpoint, and report the first link that
    does not hold."""
    # populate_existing: verify what is stored, never objects this session cached earlier.
    fresh = {"populate_existing": True}
    rows = list(
        (await session.exec(select(ConsentEvent).order_by(ConsentEvent.seq).execution_options(**fresh))).all()  # type: ignore[arg-type]
    )
    head = (await session.exec(select(AuditHead).where(AuditHead.id == 1).execution_options(**fresh))).first()
    marks = await checkpoints(session=session)
    pruned = marks[-1].through_seq if marks else 0
    if marks:
        problem = _checkpoints_broken(marks)
        if problem is not None:
            return _broken(len(rows), marks[-1].through_seq, "altered", problem, pruned)
    stored_hashes = {row.hash: row.seq for row in rows}
    expected_prev = marks[-1].through_hash if marks else GENESIS
    last_seq = pruned
    for expected_seq, row in enumerate(rows, start=pruned + 1):
        if row.seq != expected_seq:
            if row.seq < expected_seq:
                return _broken(len(rows), row.seq, "altered",
                               f"event {row.seq} is still stored although the latest checkpoint pruned it",
                               pruned)
            return _broken(len(rows), expected_seq, "removed", f"event {expected_seq} is missing", pruned)
        if row.prev_hash != expected_prev:
            if row.prev_hash in stored_hashes and stored_hashes[row.prev_hash] != expected_seq - 1:
                return _broken(
                    len(rows),
                    row.seq,
                    "reordered",
                    f"event {row.seq} links to event {stored_hashes[row.prev_hash]}, not {expected_seq - 1}",
                    pruned,
                )
            if expected_seq == 1:
                return _broken(len(rows), 1, "altered", "event 1 does not start from the genesis")
            if expected_seq == pruned + 1:
                return _broken(len(rows), expected_seq, "altered",
                               f"event {expected_seq} does not link to the last pruned event of the checkpoint",
                               pruned)
            # The predecessor's content and hash were both rewritten: its hash no longer matches this link.
            return _broken(
                len(rows),
                expected_seq - 1,
                "altered",
                f"event {expected_seq - 1} does not match the hash event {row.seq} recorded for it",
                pruned,
            )
        if _row_hash(row) != row.hash:
            return _broken(len(rows), row.seq, "altered", f"event {row.seq} does not match its hash", pruned)
        expected_prev, last_seq = row.hash, row.seq
    if head is None:
        if rows or marks:
            return _broken(len(rows), last_seq, "altered", "the chain head is missing", pruned)
        return AuditReport(ok=True, events=0)
    if head.seq > last_seq:
        return _broken(len(rows), last_seq + 1, "removed", f"events {last_seq + 1} to {head.seq} are missing",
                       pruned)
    if head.seq != last_seq or head.hash != expected_prev:
        return _broken(len(rows), head.seq, "altered", "the chain head does not match the last event", pruned)
    return AuditReport(ok=True, events=len(rows), pruned_through=pruned)
