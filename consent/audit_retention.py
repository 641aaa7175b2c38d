"""Retention of the consent audit trail (docs/architecture.md section 8.2): two years of history are kept and
shown; ``prune`` deletes older events without breaking the hash chain.

Only a prefix of the chain is ever deleted: events ``1..N`` where N is the last event before the first one at
or after ``before`` (an older event recorded after a newer one, by a clock a little behind, waits for the next
run). The same transaction stores a checkpoint with event N's seq, hash and time, from which
``consent.audit.verify_chain`` continues, so ``obgw audit verify`` still passes and any change to a kept event
is still reported. The chain is verified first and a broken chain is never pruned: deleting its events would
destroy the evidence. The consents themselves are kept, with their own dates (granted, last re-authorised,
expiry, last used), so the dashboard still shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent.audit import GENESIS
from consent.audit import AuditReport
from consent.audit import checkpoint_hash
from consent.audit import checkpoints
from consent.audit import verify_chain
from consent.models import AuditCheckpoint
from consent.models import AuditHead
from consent.models import ConsentEvent

RETENTION_YEARS: Final = 2


def default_before(*, now: datetime) -> datetime:
    """The same moment ``RETENTION_YEARS`` years earlier (29 February becomes 28 February)."""
    leap_day = now.month == 2 and now.day == 29
    return now.replace(year=now.year - RETENTION_YEARS, day=28 if leap_day else now.day)


class ChainBroken(Exception):
    """The chain does not verify; nothing was pruned."""

    def __init__(self, report: AuditReport) -> None:
        super().__init__(f"the audit trail is broken at event {report.seq} ({report.message}); nothing pruned")
        self.report = report


@dataclass(frozen=True, kw_only=True)
class PruneReport:
    """What a pruning did (or, with ``dry_run``, would do): events ``first_seq..through_seq`` deleted."""

    dry_run: bool
    before: datetime
    pruned: int
    first_seq: int | None = None
    through_seq: int | None = None
    through_at: datetime | None = None
    checkpoint_id: int | None = None


async def _last_prunable(session: AsyncSession, *, after: int, before: datetime) -> int:
    """The seq N such that every event ``after+1..N`` is older than ``before`` and event N+1 (if any) is not."""
    first_kept = (await session.exec(
        select(func.min(ConsentEvent.seq)).where(ConsentEvent.seq > after, ConsentEvent.at >= before)
    )).one()
    if first_kept is not None:
        return int(first_kept) - 1
    last = (await session.exec(select(func.max(ConsentEvent.seq)).where(ConsentEvent.seq > after))).one()
    return int(last) if last is not None else after


async def prune(*, session: AsyncSession, before: datetime, now: datetime, dry_run: bool = False) -> PruneReport:
    """Delete the events older than ``before`` (a prefix of the chain) and record the checkpoint, committed
    together; with ``dry_run``, only count them. Raises ``ChainBroken`` (nothing changed) if the chain does not
    verify. With nothing to prune, nothing changes: no delete, no checkpoint."""
    if before.tzinfo is None or now.tzinfo is None:
        raise ValueError("naive datetime for the audit pruning")
    if not dry_run:
        # Take the appenders' lock first (the head row), so no event is appended while the prefix is chosen.
        bump = update(AuditHead).where(col(AuditHead.id) == 1).values(seq=AuditHead.seq)
        await session.exec(bump.execution_options(synchronize_session=False))  # type: ignore[call-overload]
    report = await verify_chain(session=session)
    if not report.ok:
        await session.rollback()
        raise ChainBroken(report)
    marks = await checkpoints(session=session)
    after = marks[-1].through_seq if marks else 0
    through = await _last_prunable(session, after=after, before=before)
    if through <= after:
        await session.rollback()
        return PruneReport(dry_run=dry_run, before=before, pruned=0)
    last = (await session.exec(select(ConsentEvent).where(ConsentEvent.seq == through))).one()
    result = PruneReport(dry_run=dry_run, before=before, pruned=through - after, first_seq=after + 1,
                         through_seq=through, through_at=last.at,
                         checkpoint_id=len(marks) + 1)
    if dry_run:
        await session.rollback()
        return result
    prev_hash = marks[-1].hash if marks else GENESIS
    mark = AuditCheckpoint(id=len(marks) + 1, through_seq=through, through_hash=last.hash, through_at=last.at,
                           before=before, pruned=through - after, created_at=now, prev_hash=prev_hash, hash="")
    mark.hash = checkpoint_hash(prev_hash=prev_hash, checkpoint_id=mark.id, through_seq=through,
                                through_hash=last.hash, through_at=last.at, before=before, pruned=mark.pruned,
                                created_at=now)
    await session.exec(delete(ConsentEvent).where(col(ConsentEvent.seq) <= through))  # type: ignore[call-overload]
    session.add(mark)
    await session.commit()
    return result
