"""AIS permissions (AISP profile "Permissions", "Detail Permissions"; docs/obie-notes.md section 4)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from consent.errors import InvalidPermissions
from consent.permissions import DETAIL_FIELDS
from consent.permissions import ENDPOINT_PERMISSIONS
from consent.permissions import OPERATION_PATHS
from consent.permissions import Permission
from consent.permissions import can_see_pan
from consent.permissions import check_permission_combination
from consent.permissions import credit_debit_filter
from consent.permissions import describe
from consent.permissions import detail_level
from consent.permissions import permits

ACCOUNTS_BASIC = "ReadAccountsBasic"


def test_the_vocabulary_is_the_21_v3_1_11_codes() -> None:
    assert {p.value for p in Permission} == {
        "ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesBasic",
        "ReadBeneficiariesDetail", "ReadDirectDebits", "ReadOffers", "ReadPAN", "ReadParty", "ReadPartyPSU",
        "ReadProducts", "ReadScheduledPaymentsBasic", "ReadScheduledPaymentsDetail", "ReadStandingOrdersBasic",
        "ReadStandingOrdersDetail", "ReadStatementsBasic", "ReadStatementsDetail", "ReadTransactionsBasic",
        "ReadTransactionsCredits", "ReadTransactionsDebits", "ReadTransactionsDetail",
    }  # fmt: skip
    assert Permission.READ_BALANCES == "ReadBalances"


@pytest.mark.parametrize(
    "permissions",
    [
        ["ReadAccountsBasic"],
        ["ReadAccountsDetail", "ReadBalances"],
        ["ReadAccountsBasic", "ReadAccountsDetail"],
        ["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsCredits"],
        ["ReadAccountsBasic", "ReadTransactionsDetail", "ReadTransactionsDebits", "ReadTransactionsCredits"],
        [p.value for p in Permission],
    ],
    ids=["accounts-only", "detail-and-balances", "basic-and-detail-both-legal", "transactions-credits",
         "transactions-detail-both-directions", "all-21"],
)  # fmt: skip
def test_valid_combinations_pass(permissions: list[str]) -> None:
    check_permission_combination(permissions)


@pytest.mark.parametrize(
    ("permissions", "path", "words"),
    [
        ([], "Data.Permissions", "empty"),
        (["ReadBalances"], "Data.Permissions", "ReadAccountsBasic or ReadAccountsDetail"),
        ([ACCOUNTS_BASIC, "ReadTransactionsBasic"], "Data.Permissions", "needs ReadTransactionsCredits"),
        ([ACCOUNTS_BASIC, "ReadTransactionsDetail"], "Data.Permissions", "needs ReadTransactionsCredits"),
        ([ACCOUNTS_BASIC, "ReadTransactionsCredits"], "Data.Permissions", "needs ReadTransactionsBasic"),
        ([ACCOUNTS_BASIC, "ReadTransactionsDebits"], "Data.Permissions", "needs ReadTransactionsBasic"),
        ([ACCOUNTS_BASIC, "ReadEverything"], "Data.Permissions[1]", "Unknown permission"),
        ([ACCOUNTS_BASIC, "readbalances"], "Data.Permissions[1]", "Unknown permission"),
        ([ACCOUNTS_BASIC, 7], "Data.Permissions[1]", "Unknown permission"),
        ([ACCOUNTS_BASIC, "ReadBalances", "ReadBalances"], "Data.Permissions", "more than once"),
    ],
    ids=["empty", "no-accounts-permission", "transactions-basic-without-direction",
         "transactions-detail-without-direction", "credits-without-level", "debits-without-level",
         "unknown-code", "wrong-case-code", "not-a-string", "duplicate"],
)  # fmt: skip
def test_invalid_combinations_are_refused_with_the_rule_broken(
    permissions: list[str], path: str, words: str
) -> None:
    with pytest.raises(InvalidPermissions) as refused:
        check_permission_combination(permissions)
    assert refused.value.status_code == 400
    assert refused.value.ob_code == "UK.OBIE.Field.Invalid"
    assert refused.value.path == path
    assert words in refused.value.message


TX = ["ReadTransactionsBasic", "ReadTransactionsCredits"]

GATING = [
    ("/accounts", ["ReadAccountsBasic"], True),
    ("/accounts/{AccountId}", ["ReadAccountsDetail"], True),
    ("/accounts/{AccountId}/balances", ["ReadAccountsBasic"], False),
    ("/accounts/{AccountId}/balances", ["ReadAccountsBasic", "ReadBalances"], True),
    ("/balances", ["ReadBalances"], True),
    ("/accounts/{AccountId}/transactions", ["ReadTransactionsBasic"], False),
    ("/accounts/{AccountId}/transactions", ["ReadTransactionsCredits"], False),
    ("/accounts/{AccountId}/transactions", TX, True),
    ("/transactions", ["ReadTransactionsDetail", "ReadTransactionsDebits"], True),
    ("/accounts/{AccountId}/statements/{StatementId}/transactions", TX, True),
    ("/accounts/{AccountId}/statements/{StatementId}/transactions", ["ReadStatementsDetail"], False),
    ("/accounts/{AccountId}/beneficiaries", ["ReadBeneficiariesBasic"], True),
    ("/beneficiaries", ["ReadBeneficiariesDetail"], True),
    ("/accounts/{AccountId}/direct-debits", ["ReadDirectDebits"], True),
    ("/accounts/{AccountId}/standing-orders", ["ReadStandingOrdersDetail"], True),
    ("/accounts/{AccountId}/scheduled-payments", ["ReadScheduledPaymentsBasic"], True),
    ("/accounts/{AccountId}/statements", ["ReadStatementsBasic"], True),
    ("/accounts/{AccountId}/statements/{StatementId}/file", ["ReadStatementsBasic"], False),
    ("/accounts/{AccountId}/statements/{StatementId}/file", ["ReadStatementsDetail"], True),
    ("/accounts/{AccountId}/product", ["ReadProducts"], True),
    ("/offers", ["ReadOffers"], True),
    ("/accounts/{AccountId}/party", ["ReadParty"], True),
    ("/accounts/{AccountId}/parties", ["ReadPartyPSU"], False),
    ("/party", ["ReadParty"], False),
    ("/party", ["ReadPartyPSU"], True),
    ("GetAccountsAccountIdBalances", ["ReadBalances"], True),
    ("GetAccountsAccountIdTransactions", ["ReadTransactionsBasic"], False),
    ("/accounts/{AccountId}/unknown", [p.value for p in Permission], False),
    ("/account-access-consents", [p.value for p in Permission], False),
    ("/accounts", ["ReadAccountsbasic"], False),
]


@pytest.mark.parametrize(
    ("endpoint", "permissions", "granted"),
    GATING,
    ids=[f"{e}:{'+'.join(p) if len(p) < 4 else 'all'}:{'granted' if g else 'refused'}" for e, p, g in GATING],
)
def test_endpoint_gating(endpoint: str, permissions: list[str], granted: bool) -> None:
    assert permits(permissions=permissions, endpoint=endpoint) is granted


def test_every_operation_id_names_a_gated_path() -> None:
    assert set(OPERATION_PATHS.values()) == set(ENDPOINT_PERMISSIONS)


@pytest.mark.parametrize(
    ("permissions", "resource", "level"),
    [
        (["ReadAccountsBasic"], "accounts", "Basic"),
        (["ReadAccountsDetail"], "accounts", "Detail"),
        (["ReadAccountsBasic", "ReadAccountsDetail"], "accounts", "Detail"),
        (["ReadTransactionsBasic", "ReadTransactionsCredits"], "transactions", "Basic"),
        (["ReadTransactionsDetail", "ReadTransactionsCredits"], "transactions", "Detail"),
        (["ReadBeneficiariesBasic"], "beneficiaries", "Basic"),
        (["ReadStandingOrdersDetail"], "standing-orders", "Detail"),
        (["ReadScheduledPaymentsBasic"], "scheduled-payments", "Basic"),
        (["ReadStatementsDetail"], "statements", "Detail"),
    ],
    ids=["accounts-basic", "accounts-detail", "both-serves-detail", "transactions-basic", "transactions-detail",
         "beneficiaries-basic", "standing-orders-detail", "scheduled-payments-basic", "statements-detail"],
)  # fmt: skip
def test_detail_level(permissions: list[str], resource: str, level: str) -> None:
    assert detail_level(permissions=permissions, resource=resource) == level


def test_detail_level_without_either_permission_is_refused() -> None:
    with pytest.raises(InvalidPermissions) as refused:
        detail_level(permissions=["ReadAccountsBasic"], resource="beneficiaries")
    assert refused.value.status_code == 400
    assert refused.value.ob_code == "UK.OBIE.Field.Invalid"


def test_detail_only_fields_follow_the_spec() -> None:
    assert DETAIL_FIELDS["accounts"] == {"Account", "Servicer"}
    assert DETAIL_FIELDS["beneficiaries"] == {"CreditorAgent", "CreditorAccount"}
    assert DETAIL_FIELDS["standing-orders"] == {"CreditorAgent", "CreditorAccount"}
    assert DETAIL_FIELDS["scheduled-payments"] == {"CreditorAgent", "CreditorAccount"}
    assert DETAIL_FIELDS["transactions"] == {
        "TransactionInformation", "Balance", "MerchantDetails", "CreditorAgent", "CreditorAccount",
        "DebtorAgent", "DebtorAccount",
    }  # fmt: skip
    assert DETAIL_FIELDS["statements"] == {"StatementAmount"}


@pytest.mark.parametrize(
    ("permissions", "indicators"),
    [
        (["ReadTransactionsBasic", "ReadTransactionsCredits"], {"Credit"}),
        (["ReadTransactionsBasic", "ReadTransactionsDebits"], {"Debit"}),
        (["ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits"], {"Credit", "Debit"}),
        (["ReadAccountsBasic"], set()),
    ],
    ids=["credits-only", "debits-only", "both", "neither"],
)
def test_credit_debit_filter(permissions: list[str], indicators: set[str]) -> None:
    assert credit_debit_filter(permissions) == indicators


def test_pan_is_visible_only_with_read_pan() -> None:
    assert can_see_pan(["ReadAccountsDetail", "ReadPAN"]) is True
    assert can_see_pan(["ReadAccountsDetail"]) is False
    assert can_see_pan(["ReadPan"]) is False


# --------------------------------------------------------------------------- plain words


def test_describe_groups_permissions_the_way_people_think() -> None:
    groups = describe(
        ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits",
         "ReadTransactionsDebits", "ReadStandingOrdersBasic", "ReadDirectDebits"],
        transaction_from=datetime(2026, 3, 1, tzinfo=UTC),
        transaction_to=datetime(2026, 5, 31, 23, 59, tzinfo=UTC),
        expires=datetime(2026, 12, 12, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    assert [g.title for g in groups] == [
        "Your account details",
        "Your balances",
        "Your regular payments",
        "Your transactions from 1 March 2026 to 31 May 2026",
        "Until 12 December 2026",
    ]
    by_title = {g.title: g.items for g in groups}
    assert "Account number and sort code" in by_title["Your account details"]
    assert by_title["Your regular payments"] == ("Your standing orders", "Your direct debits")
    transactions = by_title["Your transactions from 1 March 2026 to 31 May 2026"]
    assert "Money coming in" in transactions and "Money going out" in transactions


def test_describe_basic_accounts_do_not_promise_account_numbers_and_no_expiry_says_so() -> None:
    groups = describe(["ReadAccountsBasic"], transaction_from=None, transaction_to=None, expires=None)
    assert [g.title for g in groups] == ["Your account details", "Until you withdraw it"]
    assert groups[0].items == ("Account name, type and currency",)


@pytest.mark.parametrize(
    ("transaction_from", "transaction_to", "title"),
    [
        (None, None, "Your transactions"),
        (datetime(2026, 1, 5, tzinfo=UTC), None, "Your transactions from 5 January 2026"),
        (None, datetime(2026, 2, 28, tzinfo=UTC), "Your transactions up to 28 February 2026"),
    ],
    ids=["no-window", "from-only", "to-only"],
)
def test_describe_transaction_window_wording(
    transaction_from: datetime | None, transaction_to: datetime | None, title: str
) -> None:
    groups = describe(
        ["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsDebits"],
        transaction_from=transaction_from,
        transaction_to=transaction_to,
        expires=None,
    )
    assert title in [g.title for g in groups]
    assert "Money coming in" not in next(g for g in groups if g.title == title).items
