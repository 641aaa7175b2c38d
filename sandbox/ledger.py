"""Deterministic account histories: what lands on each sandbox account, day by day.

The entries are shaped for OBIE ``OBTransaction6`` (Read/Write API v3.1.11, Account and Transaction API,
Transactions resource). Every day of every account is generated from a random stream seeded by
``(account key, date)`` alone, so the same account and day always yield the same entries with the same ids,
on any machine, whatever else is in the database; a history can therefore be extended day by day without
changing what was already there.

What recurs on an account and where its random spending goes is the account's ``Profile``
(``sandbox.ledger_profiles``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sandbox.customers import SEED_NAMESPACE
from sandbox.customers import TestAccount
from sandbox.ledger_profiles import GENERIC_PROFILES
from sandbox.ledger_profiles import Counterparty
from sandbox.ledger_profiles import profile_for
from sandbox.ledger_profiles import sort_code_account

# AISP profile, "Transaction To/From Date Time": ASPSPs keep at least the history their online channel shows;
# six months and a few days covers every "last six months" question a TPP may ask.
HISTORY_DAYS = 186
CENT = Decimal("0.01")


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One ledger line before it is stored (``sandbox.models.LedgerEntry``)."""

    transaction_id: str
    account_id: str
    booking_at: datetime
    value_at: datetime
    status: str
    credit_debit: str
    amount: Decimal
    currency: str
    kind: str
    information: str
    reference: str | None = None
    merchant_name: str | None = None
    merchant_category: str | None = None
    counterparty: Counterparty | None = None
    balance_after: Decimal | None = None

    def row(self) -> dict[str, Any]:
        cp = self.counterparty
        return {
            "transaction_id": self.transaction_id,
            "account_id": self.account_id,
            "booking_at": self.booking_at,
            "value_at": self.value_at,
            "status": self.status,
            "credit_debit": self.credit_debit,
            "amount": str(self.amount),
            "currency": self.currency,
            "kind": self.kind,
            "information": self.information,
            "reference": self.reference,
            "merchant_name": self.merchant_name,
            "merchant_category": self.merchant_category,
            "counterparty_name": cp.name if cp else None,
            "counterparty_scheme": cp.scheme if cp else None,
            "counterparty_identification": cp.identification if cp else None,
            "balance_after": None if self.balance_after is None else str(self.balance_after),
        }


def transaction_id(*, key: str, day: date, n: int) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"txn:{key}:{day.isoformat()}:{n}"))


def _amount(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    cents = rng.randint(int(low * 100), int(high * 100))
    return (Decimal(cents) / 100).quantize(CENT)


def _day_of_month(day: date, wanted: int) -> bool:
    # A monthly item on the 29th-31st falls on the last day of shorter months.
    last = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
    return day.day == min(wanted, last)


def _information(kind: str, name: str, reference: str | None) -> str:
    label = {
        "card": "Card payment",
        "cash": "Cash machine",
        "salary": "Bank credit",
        "direct-debit": "Direct debit",
        "standing-order": "Standing order",
        "interest": "Interest",
        "transfer-in": "Transfer from",
        "card-repayment": "Payment received",
        "faster-payment-in": "Faster payment from",
        "faster-payment-out": "Faster payment to",
    }.get(kind, kind)
    return f"{label} {name}" + (f" ref {reference}" if reference and kind != "card" else "")


def day_entries(*, account: TestAccount, day: date) -> list[Entry]:
    """Everything that happens on ``account`` on ``day``, in booking order (no balances yet)."""
    profile = profile_for(account)
    rng = random.Random(f"obgw:{account.key}:{day.isoformat()}")
    drafts: list[tuple[datetime, str, Decimal, bool, str | None, str | None, str | None, Counterparty | None]] = []
    for item in profile.recurring:
        if _day_of_month(day, item.day):
            at = datetime.combine(day, time(6, rng.randint(0, 59)), tzinfo=UTC)
            drafts.append((at, item.kind, item.amount, item.credit, item.name, item.reference, None,
                           item.counterparty))
    low, high = profile.per_day
    if profile.spends and high > 0:
        weights = [s.weight for s in profile.spends]
        for _ in range(rng.randint(low, high)):
            spend = rng.choices(profile.spends, weights=weights)[0]
            at = datetime.combine(day, time(rng.randint(7, 21), rng.randint(0, 59), rng.randint(0, 59)), tzinfo=UTC)
            credit = spend.kind == "faster-payment-in"
            reference = f"INV{rng.randint(10000, 99999)}" if spend.kind.startswith("faster") else None
            drafts.append((at, spend.kind, _amount(rng, spend.low, spend.high), credit, spend.name, reference,
                           spend.merchant_category, spend.counterparty))
    drafts.sort(key=lambda d: d[0])
    entries = []
    for n, (at, kind, amount, credit, name, reference, mcc, counterparty) in enumerate(drafts):
        merchant = name if kind in ("card", "cash") else None
        entries.append(
            Entry(
                transaction_id=transaction_id(key=account.key, day=day, n=n),
                account_id=account.account_id,
                booking_at=at,
                # Card payments settle a day or two later; everything else is value-dated on booking.
                value_at=at + timedelta(days=1) if kind == "card" else at,
                status="Booked",
                credit_debit="Credit" if credit else "Debit",
                amount=amount,
                currency=account.currency,
                kind=kind,
                information=_information(kind, name or "", reference),
                reference=reference,
                merchant_name=merchant,
                merchant_category=mcc,
                counterparty=counterparty,
            )
        )
    return entries


def with_balances(entries: list[Entry], *, opening: Decimal, pending_from: date | None = None) -> list[Entry]:
    """Running balances for booked entries; card entries on or after ``pending_from`` stay Pending, unbalanced."""
    balance = opening
    out = []
    for e in entries:
        if pending_from is not None and e.kind == "card" and e.booking_at.date() >= pending_from:
            out.append(_replace(e, status="Pending", balance_after=None))
            continue
        balance += e.amount if e.credit_debit == "Credit" else -e.amount
        out.append(_replace(e, balance_after=balance))
    return out


def _replace(entry: Entry, **changes: Any) -> Entry:
    return replace(entry, **changes)


def history(*, account: TestAccount, first_day: date, today: date, opening: Decimal) -> list[Entry]:
    """Days ``first_day`` .. ``today`` inclusive; today's card payments are still Pending (not yet booked)."""
    entries: list[Entry] = []
    day = first_day
    while day <= today:
        entries.extend(day_entries(account=account, day=day))
        day += timedelta(days=1)
    return with_balances(entries, opening=opening, pending_from=today)


def synthetic_history(*, account: TestAccount, count: int, today: date, opening: Decimal) -> list[Entry]:
    """Exactly ``count`` entries spread over the history window (the scale generator's accounts)."""
    profile = profile_for(account)
    spends = profile.spends or GENERIC_PROFILES["CurrentAccount"].spends
    first = today - timedelta(days=HISTORY_DAYS)
    span = HISTORY_DAYS * 86400
    rng = random.Random(f"obgw:synthetic:{account.key}")
    entries = []
    for n in range(count):
        at = datetime.combine(first, time(0), tzinfo=UTC) + timedelta(seconds=(n * span) // max(count, 1)
                                                                     + rng.randint(0, 3600))
        spend = spends[rng.randrange(len(spends))]
        credit = n % 10 == 0  # one in ten is money in, so balances do not only fall
        name = "Acme Widgets Ltd" if credit else spend.name
        kind = "faster-payment-in" if credit else spend.kind
        amount = _amount(rng, Decimal("150.00"), Decimal("900.00")) if credit else _amount(rng, spend.low, spend.high)
        entries.append(
            Entry(
                transaction_id=transaction_id(key=account.key, day=at.date(), n=n),
                account_id=account.account_id,
                booking_at=at,
                value_at=at,
                status="Booked",
                credit_debit="Credit" if credit else "Debit",
                amount=amount,
                currency=account.currency,
                kind=kind,
                information=_information(kind, name, None),
                merchant_name=None if credit else spend.name,
                merchant_category=None if credit else spend.merchant_category,
                counterparty=sort_code_account("Acme Widgets Ltd", "20000055555555") if credit else None,
            )
        )
    return with_balances(entries, opening=opening)
