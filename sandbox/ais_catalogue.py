"""Account resources that are derived, not stored: beneficiaries, direct debits, standing orders, scheduled
payments, parties, products and offers, each in its OBIE Read/Write API v3.1.11 shape (``OBBeneficiary5``,
``OBReadDirectDebit2``, ``OBStandingOrder6``, ``OBScheduledPayment3``, ``OBParty2``, ``OBReadProduct2``,
``OBReadOffer1``), with every field the Detail permissions can see (the gateway cuts them down).

Everything comes from the account's ``sandbox.ledger_profiles.Profile`` and fixed tables here, so the same account
gives the same ids on every start; dates that must be relative (next payment) are computed from ``today``.
Optional fields are omitted when there is nothing to say (R/W API profile, "Optional Fields").
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from sandbox.customers import ACCOUNTS
from sandbox.customers import SEED_NAMESPACE
from sandbox.customers import TestAccount
from sandbox.ledger_profiles import Counterparty
from sandbox.ledger_profiles import Recurring
from sandbox.ledger_profiles import profile_for
from sandbox.models import Account

# The sandbox bank's own identifiers (a fictitious BIC; OBIE OBBranchAndFinancialInstitutionIdentification5).
BANK_BIC = "SBXBGB2LXXX"
_BY_ID = {a.account_id: a for a in ACCOUNTS}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, ":".join(parts)))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _on(day: date, hour: int = 6) -> str:
    return _iso(datetime.combine(day, time(hour), tzinfo=UTC))


def _money(amount: Any, currency: str) -> dict[str, str]:
    return {"Amount": f"{abs(amount):.2f}", "Currency": currency}


def spec_of(account: Account) -> TestAccount:
    """The documented definition of a stored account, or one built from its row (scale-generated accounts)."""
    known = _BY_ID.get(account.account_id)
    if known is not None:
        return known
    return TestAccount(
        key=account.account_id,
        nickname=account.nickname,
        holder_name=account.holder_name,
        account_type=account.account_type,
        account_subtype=account.account_subtype,
        scheme_name=account.scheme_name,
        identification=account.identification,
        opening_balance=account.opening_balance,
        holders=(),
        currency=account.currency,
    )


def occurrence(day_of_month: int, *, year: int, month: int) -> date:
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def previous_occurrence(day_of_month: int, *, today: date) -> date:
    this = occurrence(day_of_month, year=today.year, month=today.month)
    if this <= today:
        return this
    prev = today.replace(day=1) - timedelta(days=1)
    return occurrence(day_of_month, year=prev.year, month=prev.month)


def next_occurrence(day_of_month: int, *, today: date) -> date:
    this = occurrence(day_of_month, year=today.year, month=today.month)
    if this > today:
        return this
    nxt = today.replace(day=28) + timedelta(days=4)
    return occurrence(day_of_month, year=nxt.year, month=nxt.month)


def _creditor_account(cp: Counterparty) -> dict[str, str]:
    return {"SchemeName": cp.scheme, "Identification": cp.identification, "Name": cp.name}


def _creditor_agent() -> dict[str, str]:
    return {"SchemeName": "UK.OBIE.BICFI", "Identification": BANK_BIC}


def beneficiaries(account: TestAccount) -> list[dict[str, Any]]:
    """Payees the customer set up: standing-order payees are Trusted (OBIE OBBeneficiaryType1Code)."""
    profile = profile_for(account)
    seen: dict[str, dict[str, Any]] = {}
    payees: list[tuple[Counterparty, str, str]] = []
    for item in profile.recurring:
        if not item.credit and item.counterparty is not None:
            payees.append((item.counterparty, item.reference, "Trusted"))
    for spend in profile.spends:
        if spend.kind == "faster-payment-out" and spend.counterparty is not None:
            payees.append((spend.counterparty, spend.name.upper()[:35], "Ordinary"))
    for cp, reference, kind in payees:
        if cp.identification in seen:
            continue
        seen[cp.identification] = {
            "AccountId": account.account_id,
            "BeneficiaryId": _id("beneficiary", account.key, cp.identification),
            "BeneficiaryType": kind,
            "Reference": reference[:35],
            "CreditorAgent": {**_creditor_agent(), "Name": "Sandbox Bank plc"},
            "CreditorAccount": _creditor_account(cp),
        }
    return list(seen.values())


def _of_kind(account: TestAccount, kind: str) -> list[Recurring]:
    return [r for r in profile_for(account).recurring if r.kind == kind]


def direct_debits(account: TestAccount, *, today: date) -> list[dict[str, Any]]:
    out = []
    for item in _of_kind(account, "direct-debit"):
        out.append(
            {
                "AccountId": account.account_id,
                "DirectDebitId": _id("direct-debit", account.key, item.mandate or item.name),
                "MandateIdentification": item.mandate or item.reference,
                "DirectDebitStatusCode": "Active",
                "Name": item.name[:70],
                "PreviousPaymentDateTime": _on(previous_occurrence(item.day, today=today)),
                "Frequency": "UK.OBIE.Monthly",
                "PreviousPaymentAmount": _money(item.amount, account.currency),
            }
        )
    return out


def _first_payment(account: TestAccount, item: Recurring) -> date:
    # A fixed past start per order (not relative to today), so FirstPaymentDateTime never moves.
    seed = uuid.uuid5(SEED_NAMESPACE, f"so-start:{account.key}:{item.reference}").int
    return occurrence(item.day, year=2019 + seed % 4, month=1 + seed % 12)


def standing_orders(account: TestAccount, *, today: date) -> list[dict[str, Any]]:
    out = []
    for item in _of_kind(account, "standing-order"):
        assert item.counterparty is not None
        money = _money(item.amount, account.currency)
        out.append(
            {
                "AccountId": account.account_id,
                "StandingOrderId": _id("standing-order", account.key, item.reference, item.counterparty.identification),
                # OBIE Frequency_1: every month (interval 01) on this day.
                "Frequency": f"IntrvlMnthDay:01:{item.day:02d}",
                "Reference": item.reference[:35],
                "FirstPaymentDateTime": _on(_first_payment(account, item)),
                "NextPaymentDateTime": _on(next_occurrence(item.day, today=today)),
                "LastPaymentDateTime": _on(previous_occurrence(item.day, today=today)),
                "StandingOrderStatusCode": "Active",
                "FirstPaymentAmount": money,
                "NextPaymentAmount": money,
                "LastPaymentAmount": money,
                "CreditorAgent": _creditor_agent(),
                "CreditorAccount": _creditor_account(item.counterparty),
            }
        )
    return out


def scheduled_payments(account: TestAccount, *, today: date) -> list[dict[str, Any]]:
    """One-off future payments: personal current accounts with a standing order have one booked ahead."""
    orders = _of_kind(account, "standing-order")
    if account.account_subtype != "CurrentAccount" or not orders:
        return []
    target = orders[0].counterparty
    assert target is not None
    when = today + timedelta(days=12)
    return [
        {
            "AccountId": account.account_id,
            "ScheduledPaymentId": _id("scheduled-payment", account.key, when.strftime("%Y-%m")),
            "ScheduledPaymentDateTime": _on(when, hour=0),
            "ScheduledType": "Execution",
            "Reference": "ONE-OFF PAYMENT",
            "DebtorReference": f"TO {target.name.upper()}"[:35],
            "InstructedAmount": _money(orders[0].amount / 2, account.currency),
            "CreditorAgent": _creditor_agent(),
            "CreditorAccount": _creditor_account(target),
        }
    ]


@dataclass(frozen=True, kw_only=True)
class PartyDetails:
    email: str
    phone: str
    mobile: str
    street: str
    building: str
    town: str
    post_code: str


_PEOPLE: dict[str, PartyDetails] = {
    "alice": PartyDetails(email="alice.andrews@example.com", phone="+44-2079460012", mobile="+44-7700900101",
                          street="Acacia Avenue", building="22", town="London", post_code="NW1 4RY"),
    "bob": PartyDetails(email="bob.baker@example.com", phone="+44-2079460013", mobile="+44-7700900102",
                        street="Acacia Avenue", building="22", town="London", post_code="NW1 4RY"),
    "carol": PartyDetails(email="carol.carter@example.com", phone="+44-1614960044", mobile="+44-7700900103",
                          street="Deansgate", building="118", town="Manchester", post_code="M3 2BY"),
    "dave": PartyDetails(email="dave@dawsonsbakery.example", phone="+44-1174960077", mobile="+44-7700900104",
                         street="Park Street", building="9", town="Bristol", post_code="BS1 5NT"),
    "erin": PartyDetails(email="erin.evans@example.com", phone="+44-2920960088", mobile="+44-7700900105",
                         street="Cathedral Road", building="41", town="Cardiff", post_code="CF11 9HB"),
}
_GENERIC_PERSON = PartyDetails(email="customer@example.com", phone="+44-2079460000", mobile="+44-7700900000",
                               street="High Street", building="1", town="Reading", post_code="RG1 1AA")
_COMPANIES: dict[str, PartyDetails] = {
    "Dawson's Bakery Ltd": PartyDetails(email="accounts@dawsonsbakery.example", phone="+44-1174960070",
                                        mobile="+44-7700900199", street="Gloucester Road", building="210",
                                        town="Bristol", post_code="BS7 8NU"),
}


def _address(details: PartyDetails, address_type: str) -> list[dict[str, Any]]:
    return [
        {
            "AddressType": address_type,
            "StreetName": details.street,
            "BuildingNumber": details.building,
            "PostCode": details.post_code,
            "TownName": details.town,
            "Country": "GB",
        }
    ]


def person_party(*, username: str, name: str, account_role: str | None = None, party_type: str = "Sole",
                 account: dict[str, str] | None = None) -> dict[str, Any]:
    """A person as an OBIE ``OBParty2`` (the PSU, or a holder of an account)."""
    details = _PEOPLE.get(username, _GENERIC_PERSON)
    party: dict[str, Any] = {
        "PartyId": _id("party", username),
        "PartyNumber": "P" + _id("party-number", username).replace("-", "")[:10].upper(),
        "PartyType": party_type,
        "Name": name,
        "FullLegalName": name,
        "LegalStructure": "UK.OBIE.Individual",
        "BeneficialOwnership": True,
        "EmailAddress": details.email,
        "Phone": details.phone,
        "Mobile": details.mobile,
        "Address": _address(details, "Residential"),
    }
    if account_role:
        party["AccountRole"] = account_role
    if account:
        party["Relationships"] = {"Account": account}
    return party


def company_party(*, name: str, account: dict[str, str] | None = None) -> dict[str, Any]:
    details = _COMPANIES.get(name, _GENERIC_PERSON)
    party: dict[str, Any] = {
        "PartyId": _id("company", name),
        "PartyNumber": "C" + _id("company-number", name).replace("-", "")[:10].upper(),
        "PartyType": "Sole",
        "Name": name,
        "FullLegalName": name,
        "LegalStructure": "UK.OBIE.PrivateLimitedCompany",
        "BeneficialOwnership": False,
        "AccountRole": "UK.OBIE.Principal",
        "EmailAddress": details.email,
        "Phone": details.phone,
        "Address": _address(details, "Business"),
    }
    if account:
        party["Relationships"] = {"Account": account}
    return party


def account_parties(account: TestAccount, *, holders: list[tuple[str, str]], related: str) -> list[dict[str, Any]]:
    """Everyone on the account, owner first: a business account's owner is the company, its people delegates.

    ``holders`` are ``(username, name)`` in holder order; ``related`` is the account's public URI.
    """
    link = {"Related": related, "Id": account.account_id}
    if account.account_type == "Business":
        people = [
            person_party(username=u, name=n, account_role="UK.OBIE.Beneficiary", party_type="Delegate", account=link)
            for u, n in holders
        ]
        return [company_party(name=account.holder_name, account=link), *people]
    joint = len(holders) > 1
    return [
        person_party(
            username=u,
            name=n,
            account_role="UK.OBIE.Principal" if i == 0 else "UK.OBIE.SecondaryOwner",
            party_type="Joint" if joint else "Sole",
            account=link,
        )
        for i, (u, n) in enumerate(holders)
    ]


_PRODUCTS: dict[tuple[str, str], tuple[str, str]] = {
    ("Personal", "CurrentAccount"): ("PersonalCurrentAccount", "Sandbox Everyday Current Account"),
    ("Business", "CurrentAccount"): ("BusinessCurrentAccount", "Sandbox Business Current Account"),
    ("Personal", "Savings"): ("Other", "Sandbox Easy Access Saver"),
    ("Business", "Savings"): ("Other", "Sandbox Business Reserve"),
    ("Personal", "CreditCard"): ("Other", "Sandbox Rewards Credit Card"),
}


def product(account: TestAccount) -> dict[str, Any]:
    product_type, name = _PRODUCTS.get((account.account_type, account.account_subtype), ("Other", "Sandbox Account"))
    if account.key.endswith("-isa"):
        name = "Sandbox Cash ISA"
    out: dict[str, Any] = {
        "ProductName": name,
        "ProductId": _id("product", product_type, name)[:40],
        "AccountId": account.account_id,
        "SecondaryProductId": name.upper().replace(" ", "-")[:70],
        "ProductType": product_type,
        "MarketingStateId": "SBX-" + _id("marketing", name)[:8].upper(),
    }
    if product_type == "Other":
        out["OtherProductType"] = {"Name": name, "Description": f"{name} from the sandbox bank"}
    return out


def offers(account: TestAccount, *, today: date) -> list[dict[str, Any]]:
    """Some accounts have an offer: an overdraft limit increase, a balance transfer, a promotional rate."""
    start = datetime.combine(today.replace(day=1), time(0), tzinfo=UTC)
    end = start + timedelta(days=90)
    base = {"AccountId": account.account_id, "StartDateTime": _iso(start), "EndDateTime": _iso(end)}
    if account.account_subtype == "CreditCard":
        return [
            {
                **base,
                "OfferId": _id("offer", account.key, "balance-transfer"),
                "OfferType": "BalanceTransfer",
                "Description": "0% on balance transfers for 18 months (3% fee)",
                "Rate": "0.0",
                "Value": 18,
                "Term": "Transfers made within 90 days of the offer start; 3% fee, minimum GBP 5.",
                "URL": "https://sandbox-bank.example/offers/balance-transfer",
                "Amount": _money(3000, account.currency),
                "Fee": _money(5, account.currency),
            }
        ]
    if account.account_subtype == "CurrentAccount" and account.account_type == "Personal":
        return [
            {
                **base,
                "OfferId": _id("offer", account.key, "limit-increase"),
                "OfferType": "LimitIncrease",
                "Description": "Arranged overdraft limit increase available",
                "Value": 500,
                "Term": "Subject to status; representative 39.9% APR variable.",
                "URL": "https://sandbox-bank.example/offers/overdraft",
                "Amount": _money(500, account.currency),
            }
        ]
    if account.account_subtype == "Savings" and not account.key.endswith("-isa"):
        return [
            {
                **base,
                "OfferId": _id("offer", account.key, "promotional-rate"),
                "OfferType": "PromotionalRate",
                "Description": "Bonus rate on new deposits for 12 months",
                "Rate": "4.25",
                "Value": 12,
                "Term": "Bonus applies to deposits made during the offer window.",
                "URL": "https://sandbox-bank.example/offers/saver-bonus",
            }
        ]
    return []
