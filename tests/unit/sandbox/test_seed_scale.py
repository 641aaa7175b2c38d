"""The scale generator (``seed --customers N --transactions M``): exactly N customers with M transactions per
account, deterministic ids, and a second run adds nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from sandbox.customers import customer_id
from sandbox.db import SandboxDatabase
from sandbox.models import Account
from sandbox.models import Customer
from sandbox.models import LedgerEntry
from sandbox.passwords import verify_password
from sandbox.scale_seed import LOAD_PASSWORD
from sandbox.scale_seed import generate

TODAY = date(2025, 6, 15)


async def count(db: SandboxDatabase, table: type) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def test_generates_exactly_the_asked_numbers_and_is_idempotent(tmp_path: Path) -> None:
    db = SandboxDatabase(f"sqlite+aiosqlite:///{tmp_path / 'scale.db'}")
    await db.create_all()
    try:
        report = await generate(db, customers=7, transactions=25, today=TODAY)
        # Customers 0, 3 and 6 also have savings: 7 current + 3 savings accounts.
        assert (report.customers, report.accounts, report.transactions) == (7, 10, 250)
        assert await count(db, Customer) == 7
        assert await count(db, Account) == 10
        assert await count(db, LedgerEntry) == 250
        again = await generate(db, customers=7, transactions=25, today=TODAY)
        assert (again.customers, again.accounts, again.transactions) == (0, 0, 0)
        async with db.session() as session:
            load3 = await session.get(Customer, customer_id(username="load3"))
        assert load3 is not None and verify_password(password_hash=load3.password_hash, password=LOAD_PASSWORD)
    finally:
        await db.dispose()


async def test_the_same_size_gives_the_same_ids(tmp_path: Path) -> None:
    ids = []
    for name in ("a.db", "b.db"):
        db = SandboxDatabase(f"sqlite+aiosqlite:///{tmp_path / name}")
        await db.create_all()
        try:
            await generate(db, customers=3, transactions=10, today=TODAY)
            async with db.session() as session:
                ids.append(sorted((await session.exec(select(LedgerEntry.transaction_id))).all()))
        finally:
            await db.dispose()
    assert ids[0] == ids[1] and len(ids[0]) == 40


@pytest.mark.parametrize("customers,transactions", [(-1, 10), (10, -1), (10, 100_001)])
async def test_out_of_range_sizes_are_refused(tmp_path: Path, customers: int, transactions: int) -> None:
    db = SandboxDatabase(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(ValueError):
            await generate(db, customers=customers, transactions=transactions, today=TODAY)
    finally:
        await db.dispose()
