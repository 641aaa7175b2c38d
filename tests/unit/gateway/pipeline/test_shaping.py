"""Response shaping reads like the AISP profile rules it implements (consent.permissions, docs/obie-notes.md section 4)."""

from __future__ import annotations

import pytest

from gateway.errors import UpstreamError
from gateway.pipeline.shaping import mask_pan
from gateway.pipeline.shaping import shape

MINE = "acc-1"
OTHER = "acc-2"


def _account(account_id: str, *, scheme: str = "UK.OBIE.SortCodeAccountNumber", ident: str = "11223312345678"):
    return {
        "AccountId": account_id, "Currency": "GBP", "AccountType": "Personal", "AccountSubType": "CurrentAccount",
        "Nickname": "Bills", "Account": [{"SchemeName": scheme, "Identification": ident, "Name": "A"}],
        "Servicer": {"SchemeName": "UK.OBIE.BICFI", "Identification": "SBXBGB2LXXX"},
    }


def _tx(indicator: str, *, account_id: str = MINE) -> dict:
    return {
        "AccountId": account_id, "TransactionId": f"t-{indicator}", "CreditDebitIndicator": indicator,
        "Status": "Booked", "BookingDateTime": "2024-01-01T00:00:00Z", "Amount": {"Amount": "1.00", "Currency": "GBP"},
        "TransactionInformation": "Coffee", "Balance": {"Amount": {"Amount": "5.00", "Currency": "GBP"}},
        "CardInstrument": {"CardSchemeName": "VISA", "Identification": "4000123412341234"},
    }


def _body(key: str, records) -> dict:
    return {"Data": {key: records}, "Links": {"Self": "x"}, "Meta": {"TotalPages": 1}}


def test_basic_accounts_permission_hides_account_and_servicer() -> None:
    out = shape(_body("Account", [_account(MINE)]), resource="accounts",
                permissions={"ReadAccountsBasic"}, account_ids=[MINE])
    assert set(out["Data"]["Account"][0]) == {"AccountId", "Currency", "AccountType", "AccountSubType", "Nickname"}


def test_detail_accounts_permission_keeps_account_and_servicer() -> None:
    out = shape(_body("Account", [_account(MINE)]), resource="accounts",
                permissions={"ReadAccountsDetail"}, account_ids=[MINE])
    assert out["Data"]["Account"][0]["Account"][0]["Identification"] == "11223312345678"
    assert "Servicer" in out["Data"]["Account"][0]


def test_accounts_outside_the_consent_are_dropped_from_bulk_responses() -> None:
    out = shape(_body("Account", [_account(MINE), _account(OTHER)]), resource="accounts",
                permissions={"ReadAccountsDetail"}, account_ids=[MINE])
    assert [a["AccountId"] for a in out["Data"]["Account"]] == [MINE]


def test_account_records_without_account_id_are_dropped() -> None:
    record = _account(MINE)
    del record["AccountId"]
    out = shape(_body("Account", [record]), resource="accounts", permissions={"ReadAccountsDetail"}, account_ids=[MINE])
    assert out["Data"]["Account"] == []


@pytest.mark.parametrize(
    ("directions", "kept"),
    [
        ({"ReadTransactionsCredits"}, ["Credit"]),
        ({"ReadTransactionsDebits"}, ["Debit"]),
        ({"ReadTransactionsCredits", "ReadTransactionsDebits"}, ["Credit", "Debit"]),
    ],
)
def test_transactions_are_filtered_by_the_granted_direction(directions: set[str], kept: list[str]) -> None:
    out = shape(_body("Transaction", [_tx("Credit"), _tx("Debit")]), resource="transactions",
                permissions={"ReadTransactionsDetail", *directions}, account_ids=[MINE])
    assert [t["CreditDebitIndicator"] for t in out["Data"]["Transaction"]] == kept


def test_basic_transactions_lose_detail_fields() -> None:
    out = shape(_body("Transaction", [_tx("Credit")]), resource="transactions",
                permissions={"ReadTransactionsBasic", "ReadTransactionsCredits"}, account_ids=[MINE])
    record = out["Data"]["Transaction"][0]
    assert "TransactionInformation" not in record and "Balance" not in record
    assert record["Amount"] == {"Amount": "1.00", "Currency": "GBP"}


def test_card_numbers_are_masked_without_read_pan() -> None:
    out = shape(_body("Transaction", [_tx("Debit")]), resource="transactions",
                permissions={"ReadTransactionsDetail", "ReadTransactionsDebits"}, account_ids=[MINE])
    assert out["Data"]["Transaction"][0]["CardInstrument"]["Identification"] == "************1234"


def test_pan_account_identification_is_masked_without_read_pan_and_shown_with_it() -> None:
    body = _body("Account", [_account(MINE, scheme="UK.OBIE.PAN", ident="5555666677778888")])
    hidden = shape(body, resource="accounts", permissions={"ReadAccountsDetail"}, account_ids=[MINE])
    shown = shape(body, resource="accounts", permissions={"ReadAccountsDetail", "ReadPAN"}, account_ids=[MINE])
    assert hidden["Data"]["Account"][0]["Account"][0]["Identification"] == "************8888"
    assert shown["Data"]["Account"][0]["Account"][0]["Identification"] == "5555666677778888"


def test_short_pan_is_masked_entirely() -> None:
    assert mask_pan("1234") == "****"
    assert "1234" not in mask_pan("12345678")


def test_single_party_object_is_kept_as_an_object() -> None:
    body = {"Data": {"Party": {"PartyId": "p1", "Name": "Alice"}}, "Links": {"Self": "x"}, "Meta": {}}
    out = shape(body, resource="party", permissions={"ReadPartyPSU"}, account_ids=[MINE])
    assert out["Data"]["Party"] == {"PartyId": "p1", "Name": "Alice"}


@pytest.mark.parametrize("body", [None, [], {"Data": []}, {"Data": {"Account": "x"}}, {"Data": {"Account": ["x"]}}])
def test_a_body_that_is_not_an_obie_read_is_a_bad_gateway(body) -> None:
    with pytest.raises(UpstreamError) as caught:
        shape(body, resource="accounts", permissions={"ReadAccountsDetail"}, account_ids=[MINE])
    assert caught.value.status_code == 502
    assert caught.value.errors[0].code == "UK.OBIE.UnexpectedError"
