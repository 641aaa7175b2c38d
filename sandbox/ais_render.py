"""Stored sandbox rows as OBIE Read/Write API v3.1.11 account-information objects: ``OBAccount6``, the
``OBReadBalance1`` balance, ``OBTransaction6`` and ``OBStatement2``.

Full detail always (what ``ReadAccountsDetail``/``ReadTransactionsDetail``/... may see); the gateway drops what a
consent does not allow. Amounts are positive with a ``CreditDebitIndicator`` (R/W API profile: OBIE amounts are
never signed); date-times always carry a timezone (R/W API profile, "Date Formats").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sandbox.ais_catalogue import BANK_BIC
from sandbox.ais_catalogue import product
from sandbox.customers import PAN_SCHEME
from sandbox.customers import SEED_NAMESPACE
from sandbox.customers import TestAccount
from sandbox.ledger_profiles import profile_for
from sandbox.models import AccountBalance
from sandbox.models import LedgerEntry


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(amount: Decimal | str, currency: str) -> dict[str, str]:
    return {"Amount": f"{abs(Decimal(amount)):.2f}", "Currency": currency}


def indicator(amount: Decimal | str) -> str:
    return "Debit" if Decimal(amount) < 0 else "Credit"


def opening_date(account: TestAccount) -> datetime:
    # Fixed per account (not the seed time), so OpeningDate is the same on every start.
    n = uuid.uuid5(SEED_NAMESPACE, f"opened:{account.key}").int
    return datetime(2012 + n % 10, 1 + n % 12, 1 + n % 28, 9, 0, tzinfo=UTC)


def account(spec: TestAccount) -> dict[str, Any]:
    opened = opening_date(spec)
    identification: dict[str, Any] = {
        "SchemeName": spec.scheme_name,
        "Identification": spec.identification,
        "Name": spec.holder_name[:350],
    }
    if spec.account_subtype == "Savings" and spec.scheme_name != PAN_SCHEME:
        # Building-society style roll number (OBIE SecondaryIdentification).
        identification["SecondaryIdentification"] = "RN" + spec.identification[-8:]
    return {
        "AccountId": spec.account_id,
        "Status": "Enabled",
        "StatusUpdateDateTime": iso(opened),
        "Currency": spec.currency,
        "AccountType": spec.account_type,
        "AccountSubType": spec.account_subtype,
        "Description": product(spec)["ProductName"][:35],
        "Nickname": spec.nickname[:70],
        "OpeningDate": iso(opened),
        "SwitchStatus": "UK.CASS.NotSwitched",
        "Account": [identification],
        "Servicer": {"SchemeName": "UK.OBIE.BICFI", "Identification": BANK_BIC},
    }


# Arranged overdraft on personal current accounts: a credit line not included in the available balance.
OVERDRAFT = Decimal("1000.00")


def balance(spec: TestAccount, row: AccountBalance) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AccountId": spec.account_id,
        "CreditDebitIndicator": indicator(row.amount),
        "Type": row.balance_type,
        "DateTime": iso(row.as_of),
        "Amount": money(row.amount, spec.currency),
    }
    if row.balance_type == "InterimAvailable":
        if row.credit_limit is not None:
            out["CreditLine"] = [{"Included": True, "Type": "Credit", "Amount": money(row.credit_limit, spec.currency)}]
        elif spec.account_subtype == "CurrentAccount" and spec.account_type == "Personal":
            out["CreditLine"] = [{"Included": False, "Type": "Pre-Agreed", "Amount": money(OVERDRAFT, spec.currency)}]
    return out


# ISO 20022 bank transaction codes (domain/family/sub-family names) and UK statement codes, by entry kind.
_CODES: dict[str, tuple[str, str, str]] = {
    "card": ("CustomerCardTransactions", "PointOfSaleDebitCardPayment", "POS"),
    "cash": ("CustomerCardTransactions", "CashWithdrawal", "ATM"),
    "salary": ("ReceivedCreditTransfers", "DomesticCreditTransfer", "BGC"),
    "transfer-in": ("ReceivedCreditTransfers", "DomesticCreditTransfer", "FPI"),
    "card-repayment": ("ReceivedCreditTransfers", "DomesticCreditTransfer", "FPI"),
    "faster-payment-in": ("ReceivedCreditTransfers", "DomesticCreditTransfer", "FPI"),
    "faster-payment-out": ("IssuedCreditTransfers", "DomesticCreditTransfer", "FPO"),
    "standing-order": ("IssuedCreditTransfers", "StandingOrder", "SO"),
    "direct-debit": ("IssuedDirectDebits", "DirectDebitPayment", "DD"),
    "interest": ("MiscellaneousCreditOperations", "Interest", "INT"),
}


def card_number(spec: TestAccount) -> str:
    """The card used on the account: the PAN of a card account, else a masked debit-card number."""
    if spec.scheme_name == PAN_SCHEME:
        return spec.identification
    n = uuid.uuid5(SEED_NAMESPACE, f"debit-card:{spec.key}").int % 10_000
    return f"************{n:04d}"


@dataclass(frozen=True, kw_only=True)
class StatementPeriod:
    statement_id: str
    reference: str
    start: datetime
    end: datetime


def statement_period(spec: TestAccount, *, year: int, month: int) -> StatementPeriod:
    start = datetime(year, month, 1, tzinfo=UTC)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return StatementPeriod(
        statement_id=str(uuid.uuid5(SEED_NAMESPACE, f"statement:{spec.key}:{year:04d}-{month:02d}")),
        reference=f"SBX-{year:04d}-{month:02d}",
        start=start,
        end=nxt - timedelta(seconds=1),
    )


def transaction(spec: TestAccount, row: LedgerEntry, *, today: date) -> dict[str, Any]:
    code, sub_code, proprietary = _CODES.get(row.kind, ("Other", "Other", "MISC"))
    booked = row.status == "Booked"
    out: dict[str, Any] = {
        "AccountId": spec.account_id,
        "TransactionId": row.transaction_id,
    }
    if row.reference:
        out["TransactionReference"] = row.reference
    month = row.booking_at.astimezone(UTC)
    if booked and (month.year, month.month) < (today.year, today.month):
        # Entries of a closed month appear on that month's statement.
        out["StatementReference"] = [statement_period(spec, year=month.year, month=month.month).reference]
    out.update(
        {
            "CreditDebitIndicator": row.credit_debit,
            "Status": row.status,
            "TransactionMutability": "Immutable" if booked else "Mutable",
            "BookingDateTime": iso(row.booking_at),
            "ValueDateTime": iso(row.value_at),
            "TransactionInformation": row.information[:500],
            "Amount": money(row.amount, row.currency),
            "BankTransactionCode": {"Code": code, "SubCode": sub_code},
            "ProprietaryBankTransactionCode": {"Code": proprietary, "Issuer": "SandboxBank"},
        }
    )
    if booked and row.balance_after is not None:
        out["Balance"] = {
            "CreditDebitIndicator": indicator(row.balance_after),
            "Type": "InterimBooked",
            "Amount": money(row.balance_after, row.currency),
        }
    if row.merchant_name:
        merchant: dict[str, str] = {"MerchantName": row.merchant_name}
        if row.merchant_category:
            merchant["MerchantCategoryCode"] = row.merchant_category
        out["MerchantDetails"] = merchant
    if row.counterparty_identification and row.counterparty_scheme and row.counterparty_name:
        party = {
            "SchemeName": row.counterparty_scheme,
            "Identification": row.counterparty_identification,
            "Name": row.counterparty_name,
        }
        out["CreditorAccount" if row.credit_debit == "Debit" else "DebtorAccount"] = party
    if row.kind in ("card", "cash"):
        scheme = profile_for(spec).card_scheme or "VISA"
        out["CardInstrument"] = {
            "CardSchemeName": scheme,
            "AuthorisationType": "PIN" if row.kind == "cash" else ("Contactless" if Decimal(row.amount) <= 100
                                                                   else "ConsumerDevice"),
            "Name": spec.holder_name[:70],
            "Identification": card_number(spec),
        }
    return out


def statement(spec: TestAccount, period: StatementPeriod, *, opening: Decimal, closing: Decimal,
              credits: Decimal, debits: Decimal) -> dict[str, Any]:
    cur = spec.currency
    created = period.end + timedelta(hours=7)
    out: dict[str, Any] = {
        "AccountId": spec.account_id,
        "StatementId": period.statement_id,
        "StatementReference": period.reference,
        "Type": "RegularPeriodic",
        "StartDateTime": iso(period.start),
        "EndDateTime": iso(period.end),
        "CreationDateTime": iso(created),
        "StatementDescription": [f"{spec.nickname} statement for {period.start:%B %Y}"[:500]],
        "StatementAmount": [
            {"CreditDebitIndicator": indicator(opening), "Type": "UK.OBIE.PreviousClosingBalance",
             "Amount": money(opening, cur)},
            {"CreditDebitIndicator": indicator(closing), "Type": "UK.OBIE.ClosingBalance",
             "Amount": money(closing, cur)},
            {"CreditDebitIndicator": "Credit", "Type": "UK.OBIE.TotalCredits", "Amount": money(credits, cur)},
            {"CreditDebitIndicator": "Debit", "Type": "UK.OBIE.TotalDebits", "Amount": money(debits, cur)},
        ],
        "StatementDateTime": [
            {"DateTime": iso(created), "Type": "UK.OBIE.StatementAvailable"},
            {"DateTime": iso((period.end + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0)
                             - timedelta(seconds=1)), "Type": "UK.OBIE.NextStatement"},
        ],
    }
    limit = profile_for(spec).credit_limit
    if spec.account_subtype == "CreditCard" and limit is not None:
        minimum = max(Decimal("5.00"), (abs(closing) * Decimal("0.03")).quantize(Decimal("0.01")))
        out["StatementDateTime"].append(
            {"DateTime": iso(created + timedelta(days=25)), "Type": "UK.OBIE.PaymentDue"})
        out["StatementRate"] = [{"Rate": "22.9", "Type": "UK.OBIE.AnnualPurchase"}]
        out["StatementValue"] = [{"Value": "0", "Type": "UK.OBIE.AirMilesPoints"}]
        out["StatementAmount"].append(
            {"CreditDebitIndicator": "Debit", "Type": "UK.OBIE.MinimumPaymentDue", "Amount": money(minimum, cur)}
        )
    return out
