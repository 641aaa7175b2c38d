"""The OBIE AIS permission vocabulary and what each permission gates.

Sources: R/W API v3.1.11 Account and Transaction API profile, "Permissions" and "Detail Permissions"
(OBExternalPermissions1Code, 21 values), and the per-resource "Permission Codes" sections (docs/obie-notes.md section 4).
Everything here is data plus pure functions: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from enum import StrEnum
from typing import Final
from typing import Literal

from consent.errors import InvalidPermissions


class Permission(StrEnum):
    READ_ACCOUNTS_BASIC = "ReadAccountsBasic"
    READ_ACCOUNTS_DETAIL = "ReadAccountsDetail"
    READ_BALANCES = "ReadBalances"
    READ_BENEFICIARIES_BASIC = "ReadBeneficiariesBasic"
    READ_BENEFICIARIES_DETAIL = "ReadBeneficiariesDetail"
    READ_DIRECT_DEBITS = "ReadDirectDebits"
    READ_OFFERS = "ReadOffers"
    READ_PAN = "ReadPAN"
    READ_PARTY = "ReadParty"
    READ_PARTY_PSU = "ReadPartyPSU"
    READ_PRODUCTS = "ReadProducts"
    READ_SCHEDULED_PAYMENTS_BASIC = "ReadScheduledPaymentsBasic"
    READ_SCHEDULED_PAYMENTS_DETAIL = "ReadScheduledPaymentsDetail"
    READ_STANDING_ORDERS_BASIC = "ReadStandingOrdersBasic"
    READ_STANDING_ORDERS_DETAIL = "ReadStandingOrdersDetail"
    READ_STATEMENTS_BASIC = "ReadStatementsBasic"
    READ_STATEMENTS_DETAIL = "ReadStatementsDetail"
    READ_TRANSACTIONS_BASIC = "ReadTransactionsBasic"
    READ_TRANSACTIONS_CREDITS = "ReadTransactionsCredits"
    READ_TRANSACTIONS_DEBITS = "ReadTransactionsDebits"
    READ_TRANSACTIONS_DETAIL = "ReadTransactionsDetail"


P = Permission

ACCOUNTS: Final = frozenset({P.READ_ACCOUNTS_BASIC, P.READ_ACCOUNTS_DETAIL})
TRANSACTIONS_LEVEL: Final = frozenset({P.READ_TRANSACTIONS_BASIC, P.READ_TRANSACTIONS_DETAIL})
TRANSACTIONS_DIRECTION: Final = frozenset({P.READ_TRANSACTIONS_CREDITS, P.READ_TRANSACTIONS_DEBITS})

# An endpoint's requirement is a conjunction of alternatives: every set must share at least one permission with
# the consent. Most endpoints need one set ("Basic or Detail"); transactions need two (AISP profile
# "Permissions": ReadTransactionsBasic/Detail and ReadTransactionsCredits and/or Debits).
Requirement = tuple[frozenset[Permission], ...]


def _any(*permissions: Permission) -> Requirement:
    return (frozenset(permissions),)


_TRANSACTIONS: Final[Requirement] = (TRANSACTIONS_LEVEL, TRANSACTIONS_DIRECTION)

# Path templates relative to /open-banking/v3.1/aisp (docs/obie-notes.md section 2.1). Consent endpoints are not here: they
# take a client-credentials token and no consent.
ENDPOINT_PERMISSIONS: Final[Mapping[str, Requirement]] = {
    "/accounts": _any(*ACCOUNTS),
    "/accounts/{AccountId}": _any(*ACCOUNTS),
    "/accounts/{AccountId}/balances": _any(P.READ_BALANCES),
    "/balances": _any(P.READ_BALANCES),
    "/accounts/{AccountId}/transactions": _TRANSACTIONS,
    "/transactions": _TRANSACTIONS,
    "/accounts/{AccountId}/beneficiaries": _any(P.READ_BENEFICIARIES_BASIC, P.READ_BENEFICIARIES_DETAIL),
    "/beneficiaries": _any(P.READ_BENEFICIARIES_BASIC, P.READ_BENEFICIARIES_DETAIL),
    "/accounts/{AccountId}/direct-debits": _any(P.READ_DIRECT_DEBITS),
    "/direct-debits": _any(P.READ_DIRECT_DEBITS),
    "/accounts/{AccountId}/standing-orders": _any(P.READ_STANDING_ORDERS_BASIC, P.READ_STANDING_ORDERS_DETAIL),
    "/standing-orders": _any(P.READ_STANDING_ORDERS_BASIC, P.READ_STANDING_ORDERS_DETAIL),
    "/accounts/{AccountId}/scheduled-payments": _any(
        P.READ_SCHEDULED_PAYMENTS_BASIC, P.READ_SCHEDULED_PAYMENTS_DETAIL
    ),
    "/scheduled-payments": _any(P.READ_SCHEDULED_PAYMENTS_BASIC, P.READ_SCHEDULED_PAYMENTS_DETAIL),
    "/accounts/{AccountId}/statements": _any(P.READ_STATEMENTS_BASIC, P.READ_STATEMENTS_DETAIL),
    "/accounts/{AccountId}/statements/{StatementId}": _any(P.READ_STATEMENTS_BASIC, P.READ_STATEMENTS_DETAIL),
    # Statements.md "Permission Codes": only Detail gives access to the statement file.
    "/accounts/{AccountId}/statements/{StatementId}/file": _any(P.READ_STATEMENTS_DETAIL),
    # Statement transactions are gated exactly like account transactions.
    "/accounts/{AccountId}/statements/{StatementId}/transactions": _TRANSACTIONS,
    "/statements": _any(P.READ_STATEMENTS_BASIC, P.READ_STATEMENTS_DETAIL),
    "/accounts/{AccountId}/product": _any(P.READ_PRODUCTS),
    "/products": _any(P.READ_PRODUCTS),
    "/accounts/{AccountId}/offers": _any(P.READ_OFFERS),
    "/offers": _any(P.READ_OFFERS),
    "/accounts/{AccountId}/party": _any(P.READ_PARTY),
    "/accounts/{AccountId}/parties": _any(P.READ_PARTY),
    # Parties.md: /party is the signed-in PSU, gated by its own permission.
    "/party": _any(P.READ_PARTY_PSU),
}

# The same table by OpenAPI operationId (account-info-openapi v3.1.11), for routes resolved by operation.
OPERATION_PATHS: Final[Mapping[str, str]] = {
    "GetAccounts": "/accounts",
    "GetAccountsAccountId": "/accounts/{AccountId}",
    "GetAccountsAccountIdBalances": "/accounts/{AccountId}/balances",
    "GetBalances": "/balances",
    "GetAccountsAccountIdTransactions": "/accounts/{AccountId}/transactions",
    "GetTransactions": "/transactions",
    "GetAccountsAccountIdBeneficiaries": "/accounts/{AccountId}/beneficiaries",
    "GetBeneficiaries": "/beneficiaries",
    "GetAccountsAccountIdDirectDebits": "/accounts/{AccountId}/direct-debits",
    "GetDirectDebits": "/direct-debits",
    "GetAccountsAccountIdStandingOrders": "/accounts/{AccountId}/standing-orders",
    "GetStandingOrders": "/standing-orders",
    "GetAccountsAccountIdScheduledPayments": "/accounts/{AccountId}/scheduled-payments",
    "GetScheduledPayments": "/scheduled-payments",
    "GetAccountsAccountIdStatements": "/accounts/{AccountId}/statements",
    "GetAccountsAccountIdStatementsStatementId": "/accounts/{AccountId}/statements/{StatementId}",
    "GetAccountsAccountIdStatementsStatementIdFile": "/accounts/{AccountId}/statements/{StatementId}/file",
    "GetAccountsAccountIdStatementsStatementIdTransactions": (
        "/accounts/{AccountId}/statements/{StatementId}/transactions"
    ),
    "GetStatements": "/statements",
    "GetAccountsAccountIdProduct": "/accounts/{AccountId}/product",
    "GetProducts": "/products",
    "GetAccountsAccountIdOffers": "/accounts/{AccountId}/offers",
    "GetOffers": "/offers",
    "GetAccountsAccountIdParty": "/accounts/{AccountId}/party",
    "GetAccountsAccountIdParties": "/accounts/{AccountId}/parties",
    "GetParty": "/party",
}

DetailLevel = Literal["Basic", "Detail"]

# Resources served at two levels: (Basic permission, Detail permission). Detail implies Basic, and when both are
# granted the Detail view is served (AISP profile "Detail Permissions").
LEVELLED_RESOURCES: Final[Mapping[str, tuple[Permission, Permission]]] = {
    "accounts": (P.READ_ACCOUNTS_BASIC, P.READ_ACCOUNTS_DETAIL),
    "beneficiaries": (P.READ_BENEFICIARIES_BASIC, P.READ_BENEFICIARIES_DETAIL),
    "standing-orders": (P.READ_STANDING_ORDERS_BASIC, P.READ_STANDING_ORDERS_DETAIL),
    "scheduled-payments": (P.READ_SCHEDULED_PAYMENTS_BASIC, P.READ_SCHEDULED_PAYMENTS_DETAIL),
    "transactions": (P.READ_TRANSACTIONS_BASIC, P.READ_TRANSACTIONS_DETAIL),
    "statements": (P.READ_STATEMENTS_BASIC, P.READ_STATEMENTS_DETAIL),
}

# Fields of each record that only the Detail permission may see (docs/obie-notes.md section 4, from Accounts.md,
# Beneficiaries.md, standing-orders.md, scheduled-payments.md, Transactions.md, Statements.md).
DETAIL_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "accounts": frozenset({"Account", "Servicer"}),
    "beneficiaries": frozenset({"CreditorAgent", "CreditorAccount"}),
    "standing-orders": frozenset({"CreditorAgent", "CreditorAccount"}),
    "scheduled-payments": frozenset({"CreditorAgent", "CreditorAccount"}),
    "transactions": frozenset(
        {
            "TransactionInformation",
            "Balance",
            "MerchantDetails",
            "CreditorAgent",
            "CreditorAccount",
            "DebtorAgent",
            "DebtorAccount",
        }
    ),
    "statements": frozenset({"StatementAmount"}),
}

# AISP profile "Reversing Entries": Credits shows every credit (including debit reversals), Debits every debit;
# the filter works on OBCreditDebitCode.
CREDIT_DEBIT_INDICATORS: Final[Mapping[Permission, str]] = {
    P.READ_TRANSACTIONS_CREDITS: "Credit",
    P.READ_TRANSACTIONS_DEBITS: "Debit",
}


_CODES: Final = frozenset(p.value for p in Permission)


def _known(permissions: Iterable[str]) -> frozenset[Permission]:
    """The recognised permissions among ``permissions``; unknown codes grant nothing."""
    return frozenset(Permission(p) for p in permissions if p in _CODES)


def check_permission_combination(permissions: Iterable[str]) -> None:
    """Reject a permission set the AISP profile forbids ("Permissions"; the ASPSP answers 400)."""
    requested = list(permissions)
    if not requested:
        raise InvalidPermissions("Permissions must not be empty")
    for index, code in enumerate(requested):
        if not isinstance(code, str) or code not in _CODES:
            raise InvalidPermissions(f"Unknown permission {code!r}", path=f"Data.Permissions[{index}]")
    duplicates = sorted(code for code, count in Counter(requested).items() if count > 1)
    if duplicates:
        raise InvalidPermissions(f"Permission listed more than once: {', '.join(duplicates)}")
    granted = frozenset(Permission(code) for code in requested)
    if not granted & ACCOUNTS:
        raise InvalidPermissions("Permissions must include ReadAccountsBasic or ReadAccountsDetail")
    if granted & TRANSACTIONS_LEVEL and not granted & TRANSACTIONS_DIRECTION:
        raise InvalidPermissions(
            "ReadTransactionsBasic or ReadTransactionsDetail needs ReadTransactionsCredits or ReadTransactionsDebits"
        )
    if granted & TRANSACTIONS_DIRECTION and not granted & TRANSACTIONS_LEVEL:
        raise InvalidPermissions(
            "ReadTransactionsCredits or ReadTransactionsDebits needs ReadTransactionsBasic or ReadTransactionsDetail"
        )


def requirement(endpoint: str) -> Requirement | None:
    """The permissions ``endpoint`` (a path template or an operationId) needs, or ``None`` if it is unknown."""
    return ENDPOINT_PERMISSIONS.get(OPERATION_PATHS.get(endpoint, endpoint))


def permits(*, permissions: Iterable[str], endpoint: str) -> bool:
    """Whether a consent with ``permissions`` may call ``endpoint``. Unknown endpoints are refused."""
    needed = requirement(endpoint)
    if needed is None:
        return False
    granted = _known(permissions)
    return all(granted & alternatives for alternatives in needed)


def detail_level(*, permissions: Iterable[str], resource: str) -> DetailLevel:
    """Which view of ``resource`` to serve; raises ``InvalidPermissions`` if neither level was granted."""
    basic, detail = LEVELLED_RESOURCES[resource]
    granted = _known(permissions)
    if detail in granted:
        return "Detail"
    if basic in granted:
        return "Basic"
    raise InvalidPermissions(f"No permission to read {resource}", path=None)


def credit_debit_filter(permissions: Iterable[str]) -> set[str]:
    """The ``CreditDebitIndicator`` values the consent may see (empty: no transactions at all)."""
    granted = _known(permissions)
    return {indicator for permission, indicator in CREDIT_DEBIT_INDICATORS.items() if permission in granted}


def can_see_pan(permissions: Iterable[str]) -> bool:
    """ReadPAN: the ASPSP may show full card numbers; without it every PAN is masked."""
    return P.READ_PAN in _known(permissions)


# --------------------------------------------------------------------------- plain words for the customer


@dataclass(frozen=True, kw_only=True)
class PermissionGroup:
    """One heading on the consent page and the things listed under it."""

    title: str
    items: tuple[str, ...]


_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(value: datetime) -> str:
    """``1 March 2026`` (the UTC date; no locale dependence)."""
    day = value.astimezone(UTC) if value.tzinfo else value
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _transactions_title(transaction_from: datetime | None, transaction_to: datetime | None) -> str:
    if transaction_from and transaction_to:
        return f"Your transactions from {long_date(transaction_from)} to {long_date(transaction_to)}"
    if transaction_from:
        return f"Your transactions from {long_date(transaction_from)}"
    if transaction_to:
        return f"Your transactions up to {long_date(transaction_to)}"
    return "Your transactions"


def describe(
    permissions: Iterable[str],
    *,
    transaction_from: datetime | None,
    transaction_to: datetime | None,
    expires: datetime | None,
) -> list[PermissionGroup]:
    """What the customer is asked to share, grouped the way people think about their bank account."""
    g = _known(permissions)
    groups: list[PermissionGroup] = []

    details: list[str] = []
    if g & ACCOUNTS:
        details.append("Account name, type and currency")
    if P.READ_ACCOUNTS_DETAIL in g:
        details.append("Account number and sort code")
    if P.READ_PAN in g:
        details.append("Full card numbers")
    if P.READ_PARTY_PSU in g:
        details.append("Your name and contact details")
    if P.READ_PARTY in g:
        details.append("Names and contact details of the account holders")
    if P.READ_PRODUCTS in g:
        details.append("Product information, such as fees, charges and interest rates")
    if P.READ_OFFERS in g:
        details.append("Offers available on your account")
    if details:
        groups.append(PermissionGroup(title="Your account details", items=tuple(details)))

    if P.READ_BALANCES in g:
        groups.append(PermissionGroup(title="Your balances", items=("Your account balances",)))

    regular: list[str] = []
    if P.READ_BENEFICIARIES_DETAIL in g:
        regular.append("People and businesses you have paid, with their account details")
    elif P.READ_BENEFICIARIES_BASIC in g:
        regular.append("People and businesses you have paid")
    if P.READ_STANDING_ORDERS_DETAIL in g:
        regular.append("Your standing orders, with the payees' account details")
    elif P.READ_STANDING_ORDERS_BASIC in g:
        regular.append("Your standing orders")
    if P.READ_DIRECT_DEBITS in g:
        regular.append("Your direct debits")
    if P.READ_SCHEDULED_PAYMENTS_DETAIL in g:
        regular.append("Your future-dated payments, with the payees' account details")
    elif P.READ_SCHEDULED_PAYMENTS_BASIC in g:
        regular.append("Your future-dated payments")
    if regular:
        groups.append(PermissionGroup(title="Your regular payments", items=tuple(regular)))

    if g & TRANSACTIONS_LEVEL and g & TRANSACTIONS_DIRECTION:
        moves: list[str] = []
        if P.READ_TRANSACTIONS_CREDITS in g:
            moves.append("Money coming in")
        if P.READ_TRANSACTIONS_DEBITS in g:
            moves.append("Money going out")
        if P.READ_TRANSACTIONS_DETAIL in g:
            moves.append("Transaction details, such as descriptions, merchants and the other party's account")
        else:
            moves.append("Dates, amounts and references")
        groups.append(PermissionGroup(title=_transactions_title(transaction_from, transaction_to), items=tuple(moves)))

    if P.READ_STATEMENTS_DETAIL in g:
        groups.append(PermissionGroup(title="Your statements", items=("Your statements, with amounts and files",)))
    elif P.READ_STATEMENTS_BASIC in g:
        groups.append(PermissionGroup(title="Your statements", items=("Your statements",)))

    if expires is not None:
        groups.append(
            PermissionGroup(
                title=f"Until {long_date(expires)}",
                items=("You can withdraw this access at any time before then.",),
            )
        )
    else:
        groups.append(
            PermissionGroup(title="Until you withdraw it", items=("This access has no end date.",))
        )
    return groups
