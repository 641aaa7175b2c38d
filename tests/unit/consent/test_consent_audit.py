"""The consent audit trail: an append-only SHA-256 hash chain whose first broken link is reported."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import service
from consent.audit import GENESIS
from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import append_event
from consent.audit import event_hash
from consent.audit import verify_chain
from consent.models import ConsentEvent

TPP = "client-a"
PSU = "psu-alice"


async def run_a_day(session: AsyncSession, now: datetime) -> None:
    """Six events: created, authorised, accessed twice, revoked, created."""
    consent = await service.create_account_access_consent(
        session=session, client_id=TPP, data={"Permissions": ["ReadAccountsBasic", "ReadBalances"]}, risk={}, now=now
    )
    await service.authorise(
        session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, account_ids=["acc-1"],
        available_account_ids=["acc-1"], now=now,
    )  # fmt: skip
    for minutes in (1, 2):
        await service.record_access(
            session=session, consent_id=consent.consent_id, client_id=TPP, endpoint="/accounts",
            customer_present=minutes == 1, now=now + timedelta(minutes=minutes),
        )  # fmt: skip
    await service.revoke(session=session, consent_id=consent.consent_id, psu_id=PSU, now=now + timedelta(minutes=3))
    await service.create_account_access_consent(
        session=session, client_id=TPP, data={"Permissions": ["ReadAccountsDetail"]}, risk={}, now=now
    )


async def test_chain_verifies_after_a_run(session: AsyncSession, now: datetime) -> None:
    await run_a_day(session, now)
    report = await verify_chain(session=session)
    assert (report.ok, report.events, report.seq, report.reason) == (True, 6, None, None)


async def test_empty_chain_verifies(session: AsyncSession) -> None:
    assert (await verify_chain(session=session)).ok


async def test_links_are_sha256_of_previous_hash_and_canonical_fields(session: AsyncSession, now: datetime) -> None:
    await run_a_day(session, now)
    rows = (await session.exec(select(ConsentEvent).order_by(ConsentEvent.seq))).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == GENESIS
    first = rows[0]
    fields = {
        "seq": 1, "consent_id": first.consent_id, "event": "created", "actor_type": "tpp", "actor_id": TPP,
        "at": now.isoformat(timespec="microseconds"), "detail": first.detail,
    }  # fmt: skip
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert first.hash == hashlib.sha256(GENESIS.encode() + canonical).hexdigest()
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:], strict=False))


async def test_altered_row_is_reported_at_its_seq(session: AsyncSession, now: datetime) -> None:
    await run_a_day(session, now)
    await session.exec(text("UPDATE consent_event SET actor_id = 'someone-else' WHERE seq = 3"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 3, "altered")


async def test_altered_row_with_recomputed_hash_is_caught_by_the_next_link(
    session: AsyncSession, now: datetime
) -> None:
    await run_a_day(session, now)
    row = (await session.exec(select(ConsentEvent).where(ConsentEvent.seq == 4))).one()
    # The forger rewrites event 4 and gives it a correct hash for its new content.
    forged = event_hash(
        prev_hash=row.prev_hash, seq=4, consent_id=row.consent_id, event=row.event, actor_type=row.actor_type,
        actor_id=row.actor_id, at=row.at, detail={},
    )  # fmt: skip
    assert forged != row.hash
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE consent_event SET detail = '{}', hash = :h WHERE seq = 4").bindparams(h=forged)
    )
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 4, "altered")


async def test_removed_row_is_reported_at_the_missing_seq(session: AsyncSession, now: datetime) -> None:
    await run_a_day(session, now)
    await session.exec(text("DELETE FROM consent_event WHERE seq = 2"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 2, "removed")


async def test_removed_last_row_is_reported(session: AsyncSession, now: datetime) -> None:
    await run_a_day(session, now)
    await session.exec(text("DELETE FROM consent_event WHERE seq = 6"))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 6, "removed")


async def test_swapped_rows_are_reported_as_reordered(session: AsyncSession, now: datetime) -> None:
    await run_a_day(session, now)
    # Swap the positions of events 3 and 4 (seq is unique, so go through a free number).
    for statement in (
        "UPDATE consent_event SET seq = 1000 WHERE seq = 3",
        "UPDATE consent_event SET seq = 3 WHERE seq = 4",
        "UPDATE consent_event SET seq = 4 WHERE seq = 1000",
    ):
        await session.exec(text(statement))  # type: ignore[call-overload]
    await session.commit()
    report = await verify_chain(session=session)
    assert (report.ok, report.seq, report.reason) == (False, 3, "reordered")


async def test_appends_continue_the_chain_across_sessions(sessions, now: datetime) -> None:  # type: ignore[no-untyped-def]
    for minute in range(3):
        async with sessions() as session:
            await append_event(
                session=session, consent_id="aac-1", event=EventType.ACCESSED, actor_type=ActorType.TPP,
                actor_id=TPP, at=now + timedelta(minutes=minute), detail={"endpoint": "/accounts"},
            )  # fmt: skip
            await session.commit()
    async with sessions() as session:
        report = await verify_chain(session=session)
    assert (report.ok, report.events) == (True, 3)


async def test_non_json_detail_is_refused_before_anything_is_written(session: AsyncSession, now: datetime) -> None:
    with pytest.raises(TypeError):
        await append_event(
            session=session, consent_id="aac-1", event=EventType.ACCESSED, actor_type=ActorType.TPP,
            actor_id=TPP, at=now, detail={"when": now},
        )  # fmt: skip
    assert (await session.exec(select(ConsentEvent))).all() == []
