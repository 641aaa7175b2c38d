"""Synthetic customers at scale for performance work: ``obgw sandbox seed --customers N --transactions M``.

Customer ``i`` is ``load{i}`` (password ``load-password``, one argon2id hash computed once and shared, since
hashing per customer would dominate the run), with one personal current account and, for every third
customer, a savings account; each account gets exactly ``M`` entries spread over the history window
(``sandbox.ledger.synthetic_history``). Identifiers are UUID v5 like the documented customers, so a second run
adds nothing; everything goes in with batched inserts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal

from sqlmodel import col
from sqlmodel import select

from sandbox.customers import SORT_CODE_SCHEME
from sandbox.customers import TestAccount
from sandbox.customers import customer_id
from sandbox.db import SandboxDatabase
from sandbox.ledger import synthetic_history
from sandbox.ledger_store import balance_rows
from sandbox.ledger_store import insert_rows
from sandbox.ledger_store import replace_balances
from sandbox.models import Account
from sandbox.models import AccountHolder
from sandbox.models import Customer
from sandbox.models import LedgerEntry
from sandbox.passwords import hash_password

LOAD_PASSWORD = "load-password"
CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class ScaleReport:
    customers: int
    accounts: int
    transactions: int
    seconds: float

    def as_json(self) -> dict[str, object]:
        return {"customers": self.customers, "accounts": self.accounts, "transactions": self.transactions,
                "seconds": round(self.seconds, 3)}


def load_username(i: int) -> str:
    return f"load{i}"


def load_accounts(i: int) -> list[TestAccount]:
    name = f"Load Customer {i}"
    out = [TestAccount(key=f"load-{i}-current", nickname=f"Load {i} current", holder_name=name,
                       account_type="Personal", account_subtype="CurrentAccount", scheme_name=SORT_CODE_SCHEME,
                       identification=f"777777{i:08d}", opening_balance="1500.00", holders=(load_username(i),))]
    if i % 3 == 0:
        out.append(TestAccount(key=f"load-{i}-savings", nickname=f"Load {i} savings", holder_name=name,
                               account_type="Personal", account_subtype="Savings", scheme_name=SORT_CODE_SCHEME,
                               identification=f"888888{i:08d}", opening_balance="5000.00",
                               holders=(load_username(i),)))
    return out


async def generate(db: SandboxDatabase, *, customers: int, transactions: int, today: date | None = None,
                   password_hash: str | None = None) -> ScaleReport:
    """Add synthetic customers ``load0`` .. ``load{customers-1}`` not yet present; returns what was added."""
    if customers < 0 or customers > 1_000_000 or transactions < 0 or transactions > 100_000:
        raise ValueError("customers must be 0..1000000 and transactions 0..100000")
    started = time.perf_counter()
    day = today or datetime.now(UTC).date()
    digest = password_hash or hash_password(LOAD_PASSWORD)
    totals = [0, 0, 0]
    for first in range(0, customers, CHUNK):
        indexes = range(first, min(first + CHUNK, customers))
        async with db.session() as session:
            ids = [customer_id(username=load_username(i)) for i in indexes]
            present = set((await session.exec(select(Customer.psu_id).where(col(Customer.psu_id).in_(ids)))).all())
            fresh = [i for i in indexes if customer_id(username=load_username(i)) not in present]
            if not fresh:
                continue
            now = datetime.now(UTC)
            accounts = [a for i in fresh for a in load_accounts(i)]
            totals[0] += await insert_rows(session, Customer, (
                {"psu_id": customer_id(username=load_username(i)), "username": load_username(i),
                 "password_hash": digest, "name": f"Load Customer {i}", "created_at": now} for i in fresh))
            totals[1] += await insert_rows(session, Account, (
                {"account_id": a.account_id, "nickname": a.nickname, "account_type": a.account_type,
                 "account_subtype": a.account_subtype, "currency": a.currency, "scheme_name": a.scheme_name,
                 "identification": a.identification, "holder_name": a.holder_name,
                 "opening_balance": a.opening_balance, "opened_at": now} for a in accounts))
            await insert_rows(session, AccountHolder, (
                {"account_id": a.account_id, "psu_id": customer_id(username=a.holders[0]), "position": 0}
                for a in accounts))
            balances = []
            rows = []
            for a in accounts:
                entries = synthetic_history(account=a, count=transactions, today=day,
                                            opening=Decimal(a.opening_balance))
                rows += [e.row() for e in entries]
                last = entries[-1].balance_after if entries else Decimal(a.opening_balance)
                balances += balance_rows(account=a, booked=last or Decimal(0), pending_debits=Decimal(0), at=now)
            totals[2] += await insert_rows(session, LedgerEntry, rows)
            await replace_balances(session, rows=balances)
            await session.commit()
    return ScaleReport(customers=totals[0], accounts=totals[1], transactions=totals[2],
                       seconds=time.perf_counter() - started)
