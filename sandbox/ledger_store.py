"""Putting account histories into the sandbox database, and keeping them current.

``store_histories`` is idempotent: an account without entries gets its whole window (``HISTORY_DAYS`` up to
today); an account that has entries gets only the days since its last booked day (yesterday's Pending card
payments are regenerated as Booked, with the same ids). Balances (OBIE ``OBReadBalance1`` types
``InterimBooked`` and ``InterimAvailable``) are recomputed from the stored entries each time.
Rows go in with batched ``executemany`` inserts so thousands of entries cost milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from sandbox.customers import ACCOUNTS
from sandbox.customers import TestAccount
from sandbox.db import SandboxDatabase
from sandbox.ledger import HISTORY_DAYS
from sandbox.ledger import history
from sandbox.ledger_profiles import profile_for
from sandbox.models import AccountBalance
from sandbox.models import LedgerEntry

BATCH = 5000


async def insert_rows(session: AsyncSession, table: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Batched Core ``executemany`` insert on the session's connection (no ORM unit of work: thousands of rows
    cost milliseconds); returns how many rows went in."""
    connection = await session.connection()
    statement = table.__table__.insert()
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await connection.execute(statement, batch)
            count += len(batch)
            batch = []
    if batch:
        await connection.execute(statement, batch)
        count += len(batch)
    return count


async def store_histories(session: AsyncSession, *, accounts: Iterable[TestAccount], today: date) -> int:
    """Add the missing days of each account's history; returns how many entries were added."""
    added = 0
    for account in accounts:
        last_at = (
            await session.exec(
                select(func.max(LedgerEntry.booking_at)).where(LedgerEntry.account_id == account.account_id)
            )
        ).one()
        if last_at is None:
            first_day, opening = today - timedelta(days=HISTORY_DAYS), Decimal(account.opening_balance)
        else:
            # SQLite hands aggregates back as text: the column type does not apply to func.max.
            last_day = (last_at if isinstance(last_at, datetime) else datetime.fromisoformat(str(last_at))).date()
            if last_day >= today:
                continue
            # The last stored day was "today" then: regenerate it whole (its Pending card payments come back
            # Booked, with the same ids) and every day since.
            first_day = last_day
            day_start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
            # Payments executed through the ledger are real events, not generated history: they stay.
            removed = await session.execute(
                delete(LedgerEntry).where(
                    LedgerEntry.account_id == account.account_id,  # type: ignore[arg-type]
                    LedgerEntry.booking_at >= day_start,  # type: ignore[arg-type]
                    LedgerEntry.kind != "payment",  # type: ignore[arg-type]
                )
            )
            added -= int(getattr(removed, "rowcount", 0) or 0)
            before = (
                await session.exec(
                    select(LedgerEntry.balance_after)
                    .where(LedgerEntry.account_id == account.account_id, LedgerEntry.status == "Booked",
                           LedgerEntry.booking_at < day_start)  # type: ignore[arg-type]
                    .order_by(LedgerEntry.booking_at.desc())  # type: ignore[attr-defined]
                    .limit(1)
                )
            ).first()
            opening = Decimal(str(before)) if before is not None else Decimal(account.opening_balance)
        entries = history(account=account, first_day=first_day, today=today, opening=opening)
        added += await insert_rows(session, LedgerEntry, (e.row() for e in entries))
        if last_at is not None:
            await _rerun_balances(session, account_id=account.account_id, since=day_start, opening=opening)
        await store_balances(session, account=account)
    return added


async def _rerun_balances(session: AsyncSession, *, account_id: str, since: datetime, opening: Decimal) -> None:
    """Recompute running balances from ``since``: regenerated history and kept payments interleave."""
    rows = (
        await session.exec(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.status == "Booked",
                   LedgerEntry.booking_at >= since)  # type: ignore[arg-type]
            .order_by(LedgerEntry.booking_at, LedgerEntry.transaction_id)  # type: ignore[arg-type]
        )
    ).all()
    running = opening
    for row in rows:
        amount = Decimal(row.amount)
        running += amount if row.credit_debit == "Credit" else -amount
        row.balance_after = str(running.quantize(Decimal("0.01")))
        session.add(row)
    await session.flush()


async def store_balances(session: AsyncSession, *, account: TestAccount, now: datetime | None = None) -> None:
    """Recompute the account's balance rows from its entries."""
    at = now or datetime.now(UTC)
    booked_row = (
        await session.exec(
            select(LedgerEntry.balance_after)
            .where(LedgerEntry.account_id == account.account_id, LedgerEntry.status == "Booked")
            .order_by(LedgerEntry.booking_at.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).first()
    booked = Decimal(str(booked_row)) if booked_row is not None else Decimal(account.opening_balance)
    pending = (
        await session.exec(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.account_id == account.account_id, LedgerEntry.status == "Pending")
        )
    ).one()
    pending_debits = Decimal(0)
    if pending:
        rows = (
            await session.exec(
                select(LedgerEntry.amount, LedgerEntry.credit_debit).where(
                    LedgerEntry.account_id == account.account_id, LedgerEntry.status == "Pending"
                )
            )
        ).all()
        pending_debits = sum((Decimal(a) if cd == "Debit" else -Decimal(a) for a, cd in rows), Decimal(0))
    await replace_balances(session, rows=balance_rows(account=account, booked=booked,
                                                       pending_debits=pending_debits, at=at))


def balance_rows(*, account: TestAccount, booked: Decimal, pending_debits: Decimal, at: datetime
                 ) -> list[dict[str, Any]]:
    limit = profile_for(account).credit_limit
    available = booked - pending_debits
    return [
        {"account_id": account.account_id, "balance_type": "InterimBooked", "amount": str(booked),
         "credit_limit": None, "as_of": at},
        {"account_id": account.account_id, "balance_type": "InterimAvailable", "amount": str(available),
         "credit_limit": None if limit is None else str(limit), "as_of": at},
    ]


async def replace_balances(session: AsyncSession, *, rows: list[dict[str, Any]]) -> None:
    ids = {r["account_id"] for r in rows}
    await session.execute(delete(AccountBalance).where(AccountBalance.account_id.in_(ids)))  # type: ignore[attr-defined]
    await insert_rows(session, AccountBalance, rows)



async def seed_histories(db: SandboxDatabase, *, today: date | None = None,
                         accounts: Iterable[TestAccount] = ACCOUNTS) -> int:
    """Bring every documented account's history up to ``today`` (default: the current UTC date)."""
    async with db.session() as session:
        added = await store_histories(session, accounts=accounts, today=today or datetime.now(UTC).date())
        await session.commit()
    return added
