"""Retention of the audit trail (docs/architecture.md section 8.2): events older than the cut-off are pruned as a
prefix of the chain behind a hashed checkpoint; the chain still verifies, a change to a kept event is still
caught, and a pruning with nothing to prune changes nothing."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import append_event
from consent.audit import verify_chain
from consent.audit_retention import ChainBroken
from consent.audit_retention import default_before
from consent.audit_retention import prune
from consent.models import AuditCheckpoint
from consent.models import ConsentEvent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CUT = datetime(2024, 12, 7, 12, 0, tzinfo=UTC)


async def record(session: AsyncSession, *ages_in_days: int) -> None:
    """One event per age (days before NOW), in that order, then commit."""
    for age in ages_in_days:
        await append_event(session=session, consent_id="c-1", event=EventType.ACCESSED, actor_type=ActorType.TPP,
                           actor_id="tpp-a", at=NOW - timedelta(days=age), detail={"endpoint": "/accounts"})
    await session.commit()


async def stored_seqs(session: AsyncSession) -> list[int]:
    query = select(ConsentEvent.seq).order_by(ConsentEvent.seq).execution_options(populate_existing=True)
    return list((await session.exec(query)).all())


def test_the_default_cut_off_is_two_years_ago() -> None:
    assert default_before(now=NOW) == CUT
    assert default_before(now=datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)


async def test_prune_deletes_the_older_prefix_and_verify_still_passes(session: AsyncSession) -> None:
    await record(session, 900, 800, 731, 700, 10)
    done = await prune(session=session, before=CUT, now=NOW)
    assert (done.pruned, done.first_seq, done.through_seq) == (3, 1, 3)
    assert await stored_seqs(session) == [4, 5]
    report = await verify_chain(session=session)
    assert (report.ok, report.events, report.pruned_through) == (True, 2, 3)


async def test_events_appended_after_a_pruning_verify(session: AsyncSession) -> None:
    await record(session, 900, 10)
    await prune(session=session, before=CUT, now=NOW)
    await record(session, 0, 0)
    assert (await verify_chain(session=session)).ok


async def test_a_second_pruning_continues_from_the_first_checkpoint(session: AsyncSession) -> None:
    await record(session, 900, 800, 500, 10)
    await prune(session=session, before=CUT, now=NOW)
    await prune(session=session, before=NOW - timedelta(days=100), now=NOW + timedelta(days=1))
    assert await stored_seqs(session) == [4]
    marks = (await session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.id))).all()
    assert [(m.id, m.through_seq, m.pruned) for m in marks] == [(1, 2, 2), (2, 3, 1)]
    assert marks[1].prev_hash == marks[0].hash
    assert (await verify_chain(session=session)).ok


async def test_pruning_everything_leaves_a_chain_that_verifies_and_grows(session: AsyncSession) -> None:
    await record(session, 900, 800)
    await prune(session=session, before=CUT, now=NOW)
    assert await stored_seqs(session) == []
    assert (await verify_chain(session=session)).ok
    await record(session, 0)
    assert await stored_seqs(session) == [3]
    assert (await verify_chain(session=session)).ok


async def test_a_tampered_kept_event_still_fails_verification(session: AsyncSession) -> None:
    await record(session, 900, 800, 10, 5)
    await prune(session=session, before=CUT, now=NOW)
    await session.exec(text("UPDATE consent_event SET actor_id = 'someone-else' WHERE seq = 4"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 4, "altered")


async def test_removing_the_first_kept_event_is_reported(session: AsyncSession) -> None:
    await record(session, 900, 800, 10, 5)
    await prune(session=session, before=CUT, now=NOW)
    await session.exec(text("DELETE FROM consent_event WHERE seq = 3"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 3, "removed")


async def test_an_altered_checkpoint_is_reported(session: AsyncSession) -> None:
    await record(session, 900, 800, 10)
    await prune(session=session, before=CUT, now=NOW)
    # Claim that fewer events were pruned than were: the checkpoint no longer matches its hash.
    await session.exec(text("UPDATE consent_audit_checkpoint SET pruned = 1"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.reason) == (False, "altered")


async def test_removing_the_checkpoint_is_reported(session: AsyncSession) -> None:
    await record(session, 900, 800, 10)
    await prune(session=session, before=CUT, now=NOW)
    await session.exec(text("DELETE FROM consent_audit_checkpoint"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 1, "removed")


async def test_nothing_to_prune_changes_nothing(session: AsyncSession) -> None:
    await record(session, 700, 10)
    done = await prune(session=session, before=CUT, now=NOW)
    assert done.pruned == 0 and done.checkpoint_id is None
    assert await stored_seqs(session) == [1, 2]
    assert (await session.exec(select(AuditCheckpoint))).all() == []
    assert (await verify_chain(session=session)).pruned_through == 0


async def test_an_empty_chain_has_nothing_to_prune(session: AsyncSession) -> None:
    assert (await prune(session=session, before=CUT, now=NOW)).pruned == 0
    assert (await verify_chain(session=session)).ok


async def test_dry_run_counts_and_changes_nothing(session: AsyncSession) -> None:
    await record(session, 900, 800, 10)
    done = await prune(session=session, before=CUT, now=NOW, dry_run=True)
    assert (done.dry_run, done.pruned, done.through_seq) == (True, 2, 2)
    assert await stored_seqs(session) == [1, 2, 3]
    assert (await session.exec(select(AuditCheckpoint))).all() == []


async def test_only_a_prefix_is_pruned_an_old_event_after_a_newer_one_waits(session: AsyncSession) -> None:
    # Event 3 is stamped older than event 2 (a replica's clock behind): pruning stops at event 1.
    await record(session, 900, 10, 800, 5)
    done = await prune(session=session, before=CUT, now=NOW)
    assert (done.pruned, done.through_seq) == (1, 1)
    assert await stored_seqs(session) == [2, 3, 4]
    assert (await verify_chain(session=session)).ok


async def test_a_broken_chain_is_never_pruned(session: AsyncSession) -> None:
    await record(session, 900, 800, 10)
    await session.exec(text("UPDATE consent_event SET actor_id = 'someone-else' WHERE seq = 1"))  # type: ignore[call-overload]
    await session.commit()
    with pytest.raises(ChainBroken):
        await prune(session=session, before=CUT, now=NOW)
    assert await stored_seqs(session) == [1, 2, 3]
