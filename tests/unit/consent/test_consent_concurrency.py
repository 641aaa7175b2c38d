"""Concurrent writers on a real SQLite file (one connection each): consume happens once, the chain never forks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import service
from consent.audit import verify_chain
from consent.errors import InvalidConsentStatus

TPP = "client-a"
PSU = "psu-alice"
PAYMENT = {"Initiation": {"InstructionIdentification": "A1", "EndToEndIdentification": "E1",
                          "InstructedAmount": {"Amount": "10.00", "Currency": "GBP"}}}  # fmt: skip


@pytest.fixture
async def file_sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}", connect_args={"timeout": 30})
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    yield async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    await engine.dispose()


async def test_two_concurrent_consumes_succeed_exactly_once(
    file_sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with file_sessions() as session:
        consent = await service.create_payment_consent(
            session=session, client_id=TPP, kind="domestic-payment", data=PAYMENT, risk={},
            idempotency_key="k1", request_hash="h1", now=now, idempotency_window=timedelta(hours=24),
        )  # fmt: skip
        await service.authorise(
            session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU, account_ids=["acc-1"],
            available_account_ids=["acc-1"], now=now,
        )  # fmt: skip

    async def consume() -> str:
        async with file_sessions() as session:
            try:
                await service.consume(session=session, consent_id=consent.consent_id, client_id=TPP, now=now)
            except InvalidConsentStatus:
                return "refused"
            return "consumed"

    outcomes = await asyncio.gather(consume(), consume(), consume())
    assert sorted(outcomes) == ["consumed", "refused", "refused"]
    async with file_sessions() as session:
        assert (await verify_chain(session=session)).ok


async def test_concurrent_audit_appends_keep_one_chain(
    file_sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with file_sessions() as session:
        consent = await service.create_account_access_consent(
            session=session, client_id=TPP, data={"Permissions": ["ReadAccountsBasic"]}, risk={}, now=now
        )

    async def access(n: int) -> None:
        async with file_sessions() as session:
            await service.record_access(
                session=session, consent_id=consent.consent_id, client_id=TPP, endpoint="/accounts",
                customer_present=False, now=now + timedelta(seconds=n),
            )  # fmt: skip

    await asyncio.gather(*(access(n) for n in range(12)))
    async with file_sessions() as session:
        report = await verify_chain(session=session)
    assert (report.ok, report.events) == (True, 13)
