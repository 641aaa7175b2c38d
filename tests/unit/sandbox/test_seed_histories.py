"""Seed data: the same day gives the same histories (ids, amounts, balances) in any fresh database; re-seeding
adds nothing; a later day extends the history without changing what was there; start-up stays fast."""

from __future__ import annotations

import time
from datetime import date
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import col
from sqlmodel import select

from sandbox.customers import ACCOUNTS
from sandbox.customers import seed
from sandbox.db import SandboxDatabase
from sandbox.ledger import HISTORY_DAYS
from sandbox.ledger import history
from sandbox.ledger_store import seed_histories
from sandbox.models import AccountBalance
from sandbox.models import LedgerEntry

TODAY = date(2025, 6, 15)


async def fresh(tmp_path: Path, name: str) -> SandboxDatabase:
    db = SandboxDatabase(f"sqlite+aiosqlite:///{tmp_path / name}")
    await db.create_all()
    await seed(db)
    return db


async def ledger(db: SandboxDatabase) -> list[tuple[str, str, str, str | None]]:
    async with db.session() as session:
        rows = (await session.exec(select(LedgerEntry).order_by(col(LedgerEntry.transaction_id)))).all()
    return [(r.transaction_id, r.amount, r.status, r.balance_after) for r in rows]


async def test_seed_is_deterministic_across_fresh_databases(tmp_path: Path) -> None:
    one, two = await fresh(tmp_path, "one.db"), await fresh(tmp_path, "two.db")
    try:
        assert await seed_histories(one, today=TODAY) == await seed_histories(two, today=TODAY) > 1000
        assert await ledger(one) == await ledger(two)
    finally:
        await one.dispose()
        await two.dispose()


async def test_seeding_again_the_same_day_adds_nothing(tmp_path: Path) -> None:
    db = await fresh(tmp_path, "db.db")
    try:
        await seed_histories(db, today=TODAY)
        before = await ledger(db)
        assert await seed_histories(db, today=TODAY) == 0
        assert await ledger(db) == before
    finally:
        await db.dispose()


async def test_a_later_day_extends_the_history_and_books_yesterdays_pending(tmp_path: Path) -> None:
    db, direct = await fresh(tmp_path, "db.db"), await fresh(tmp_path, "direct.db")
    try:
        await seed_histories(db, today=TODAY)
        assert any(status == "Pending" for _, _, status, _ in await ledger(db))
        later = TODAY + timedelta(days=3)
        assert await seed_histories(db, today=later) > 0
        extended = {tid: row for tid, *row in await ledger(db)}
        # Every entry of the first seed is still there, unchanged unless it was pending then.
        first = await _seeded(tmp_path, TODAY)
        try:
            for tid, amount, status, balance in await ledger(first):
                assert extended[tid][0] == amount
                if status == "Booked":
                    assert extended[tid] == [amount, status, balance]
        finally:
            await first.dispose()
        async with db.session() as session:
            pending = (await session.exec(select(LedgerEntry).where(LedgerEntry.status == "Pending"))).all()
        # The first seed's pending card payments are booked now; only the new day's are pending.
        assert all(p.booking_at.date() == later for p in pending)
        # The extended history equals one generated straight for the later day from the same opening.
        await seed_histories(direct, today=later)
        window = {tid for tid, *_ in await ledger(direct)}
        assert window <= set(extended)
    finally:
        await db.dispose()
        await direct.dispose()


async def _seeded(tmp_path: Path, today: date) -> SandboxDatabase:
    db = await fresh(tmp_path, f"seeded-{today}.db")
    await seed_histories(db, today=today)
    return db


async def test_balances_match_the_last_running_balance(tmp_path: Path) -> None:
    db = await fresh(tmp_path, "db.db")
    try:
        await seed_histories(db, today=TODAY)
        for account in ACCOUNTS:
            entries = history(account=account, first_day=TODAY - timedelta(days=HISTORY_DAYS), today=TODAY,
                              opening=Decimal(account.opening_balance))
            last = [e.balance_after for e in entries if e.balance_after is not None][-1]
            async with db.session() as session:
                row = await session.get(AccountBalance, (account.account_id, "InterimBooked"))
            assert row is not None and Decimal(row.amount) == last, account.key
    finally:
        await db.dispose()


async def test_history_covers_six_months_with_salary_every_month() -> None:
    alice = next(a for a in ACCOUNTS if a.key == "alice-current")
    entries = history(account=alice, first_day=TODAY - timedelta(days=HISTORY_DAYS), today=TODAY,
                      opening=Decimal(alice.opening_balance))
    assert entries[0].booking_at.date() <= TODAY - timedelta(days=183)
    salaries = [e for e in entries if e.kind == "salary"]
    assert len(salaries) >= 6 and all(e.credit_debit == "Credit" for e in salaries)
    assert {e.merchant_name for e in entries if e.kind == "card"} >= {"Tesco Stores", "Pret A Manger"}


async def test_seeding_the_test_customers_takes_under_a_second(tmp_path: Path) -> None:
    db = SandboxDatabase(f"sqlite+aiosqlite:///{tmp_path / 'timed.db'}")
    await db.create_all()
    try:
        # CPU time of this process (every thread, aiosqlite's included): what seeding costs, whatever else
        # shares the machine; wall-clock time would measure the neighbours.
        started = time.process_time()
        await seed(db)
        await seed_histories(db, today=TODAY)
        assert time.process_time() - started < 1.0
    finally:
        await db.dispose()


async def test_a_later_day_keeps_payments_and_counts_them_in_the_balances(tmp_path: Path) -> None:
    from datetime import UTC
    from datetime import datetime

    db = await fresh(tmp_path, "db.db")
    account = ACCOUNTS[0]
    try:
        await seed_histories(db, today=TODAY)
        booked = datetime(TODAY.year, TODAY.month, TODAY.day, 12, 0, tzinfo=UTC)
        async with db.session() as session:
            session.add(LedgerEntry(
                transaction_id="payment-kept", account_id=account.account_id, booking_at=booked, value_at=booked,
                status="Booked", credit_debit="Debit", amount="100.00", kind="payment",
                information="Payment to a payee",
            ))
            await session.commit()
        await seed_histories(db, today=TODAY + timedelta(days=1))
        async with db.session() as session:
            kept = await session.get(LedgerEntry, "payment-kept")
            rows = (await session.exec(
                select(LedgerEntry).where(LedgerEntry.account_id == account.account_id, LedgerEntry.status == "Booked")
                .order_by(col(LedgerEntry.booking_at), col(LedgerEntry.transaction_id))
            )).all()
        assert kept is not None
        # Every running balance follows from the one before it, the kept payment included.
        for before, after in zip(rows, rows[1:], strict=False):
            sign = 1 if after.credit_debit == "Credit" else -1
            assert Decimal(after.balance_after) == Decimal(before.balance_after) + sign * Decimal(after.amount)
    finally:
        await db.dispose()
