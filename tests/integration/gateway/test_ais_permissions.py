"""Every AIS endpoint through the gateway under several consents: 200 or 403 as the AISP profile "Permissions"
table says, exactly the fields the consent allows (Basic vs Detail, credits/debits, PAN), and every 200 valid
against the official OBIE v3.1.11 account-info document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.testing import MockResponse

from consent.permissions import DETAIL_FIELDS
from sandbox.customers import accounts_of
from tests.integration.gateway.conftest import AIS
from tests.integration.gateway.conftest import ISSUER
from tests.integration.gateway.conftest import make_grant

# The official OBIE file, vendored unmodified in the repository (openapi/obie/README.md).
OFFICIAL = Path(__file__).resolve().parents[3] / "openapi/obie/account-and-transaction/v3.1.11/account-info-openapi.yaml"

# Path (relative to the AIS base) -> (what the consent needs: every set must share one permission, Data key).
# From the v3.1.11 resource pages' "Permission Codes" sections (docs/obie-notes.md section 4).
A = "{AccountId}"
S = "{StatementId}"
TX = ({"ReadTransactionsBasic", "ReadTransactionsDetail"}, {"ReadTransactionsCredits", "ReadTransactionsDebits"})
ENDPOINTS: dict[str, tuple[tuple[set[str], ...], str | None]] = {
    "/accounts": (({"ReadAccountsBasic", "ReadAccountsDetail"},), "Account"),
    f"/accounts/{A}": (({"ReadAccountsBasic", "ReadAccountsDetail"},), "Account"),
    f"/accounts/{A}/balances": (({"ReadBalances"},), "Balance"),
    "/balances": (({"ReadBalances"},), "Balance"),
    f"/accounts/{A}/transactions": (TX, "Transaction"),
    "/transactions": (TX, "Transaction"),
    f"/accounts/{A}/beneficiaries": (({"ReadBeneficiariesBasic", "ReadBeneficiariesDetail"},), "Beneficiary"),
    "/beneficiaries": (({"ReadBeneficiariesBasic", "ReadBeneficiariesDetail"},), "Beneficiary"),
    f"/accounts/{A}/direct-debits": (({"ReadDirectDebits"},), "DirectDebit"),
    "/direct-debits": (({"ReadDirectDebits"},), "DirectDebit"),
    f"/accounts/{A}/standing-orders": (({"ReadStandingOrdersBasic", "ReadStandingOrdersDetail"},), "StandingOrder"),
    "/standing-orders": (({"ReadStandingOrdersBasic", "ReadStandingOrdersDetail"},), "StandingOrder"),
    f"/accounts/{A}/scheduled-payments": (
        ({"ReadScheduledPaymentsBasic", "ReadScheduledPaymentsDetail"},), "ScheduledPayment"),
    "/scheduled-payments": (({"ReadScheduledPaymentsBasic", "ReadScheduledPaymentsDetail"},), "ScheduledPayment"),
    f"/accounts/{A}/statements": (({"ReadStatementsBasic", "ReadStatementsDetail"},), "Statement"),
    f"/accounts/{A}/statements/{S}": (({"ReadStatementsBasic", "ReadStatementsDetail"},), "Statement"),
    f"/accounts/{A}/statements/{S}/file": (({"ReadStatementsDetail"},), None),
    f"/accounts/{A}/statements/{S}/transactions": (TX, "Transaction"),
    "/statements": (({"ReadStatementsBasic", "ReadStatementsDetail"},), "Statement"),
    f"/accounts/{A}/product": (({"ReadProducts"},), "Product"),
    "/products": (({"ReadProducts"},), "Product"),
    f"/accounts/{A}/offers": (({"ReadOffers"},), "Offer"),
    "/offers": (({"ReadOffers"},), "Offer"),
    f"/accounts/{A}/party": (({"ReadParty"},), "Party"),
    f"/accounts/{A}/parties": (({"ReadParty"},), "Party"),
    "/party": (({"ReadPartyPSU"},), "Party"),
}
RESOURCE_OF_KEY = {"Account": "accounts", "Beneficiary": "beneficiaries", "StandingOrder": "standing-orders",
                   "ScheduledPayment": "scheduled-payments", "Transaction": "transactions", "Statement": "statements"}
DETAIL_PERMISSION = {"Account": "ReadAccountsDetail", "Beneficiary": "ReadBeneficiariesDetail",
                     "StandingOrder": "ReadStandingOrdersDetail", "ScheduledPayment": "ReadScheduledPaymentsDetail",
                     "Transaction": "ReadTransactionsDetail", "Statement": "ReadStatementsDetail"}

DETAIL = ["ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesDetail", "ReadDirectDebits", "ReadOffers",
          "ReadParty", "ReadPartyPSU", "ReadProducts", "ReadScheduledPaymentsDetail", "ReadStandingOrdersDetail",
          "ReadStatementsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits", "ReadTransactionsDetail",
          "ReadPAN"]
BASIC_CREDITS = ["ReadAccountsBasic", "ReadBeneficiariesBasic", "ReadStandingOrdersBasic",
                 "ReadScheduledPaymentsBasic", "ReadStatementsBasic", "ReadTransactionsBasic",
                 "ReadTransactionsCredits"]
ACCOUNTS_ONLY = ["ReadAccountsBasic"]


@pytest.fixture(scope="module")
def official() -> OpenAPI:
    return OpenAPI.from_file_path(str(OFFICIAL))


def _expected(permissions: list[str], path: str) -> int:
    needs, _ = ENDPOINTS[path]
    return 200 if all(set(permissions) & alternatives for alternatives in needs) else 403


def _validate(official: OpenAPI, path: str, response: Any) -> None:
    request = MockRequest(ISSUER, "get", AIS + path)
    official.validate_response(request, MockResponse(data=response.content, status_code=response.status_code,
                                                     headers=dict(response.headers),
                                                     content_type="application/json"))


def _records(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = body["Data"].get(key, [])
    return value if isinstance(value, list) else [value]


async def _statement_id(gw, db, account_id: str) -> str:  # type: ignore[no-untyped-def]
    grant = await make_grant(db, permissions=["ReadAccountsBasic", "ReadStatementsBasic"])
    path = f"{AIS}/accounts/{account_id}/statements"
    listing = await gw.get(path, headers=grant.headers("GET", path, **{"x-fapi-customer-ip-address": "10.0.0.1"}))
    assert listing.status_code == 200, listing.text
    return str(listing.json()["Data"]["Statement"][0]["StatementId"])


@pytest.mark.parametrize("permissions", [DETAIL, BASIC_CREDITS, ACCOUNTS_ONLY], ids=["detail", "basic", "accounts"])
async def test_every_ais_endpoint_answers_by_the_consent(gw, db, official, permissions) -> None:  # type: ignore[no-untyped-def]
    account_id = accounts_of("alice")[0].account_id
    statement_id = await _statement_id(gw, db, account_id)
    grant = await make_grant(db, permissions=permissions)
    problems: list[str] = []
    for template, (_, key) in ENDPOINTS.items():
        path = template.replace(A, account_id).replace(S, statement_id)
        response = await gw.get(AIS + path, headers=grant.headers("GET", AIS + path,
                                                                   **{"x-fapi-customer-ip-address": "10.0.0.1"}))
        expected = _expected(permissions, template)
        if response.status_code != expected:
            problems.append(f"{template}: {response.status_code} != {expected} {response.text[:200]}")
            continue
        assert response.headers["x-fapi-interaction-id"]
        if expected == 403:
            assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.InvalidConsentStatus", template
            continue
        if key is None:
            continue  # the statement file: opaque bytes
        _validate(official, template, response)
        body = response.json()
        records = _records(body, key)
        if A in template and key != "Party":
            assert {r["AccountId"] for r in records} <= {account_id}, template
        assert {r.get("AccountId", account_id) for r in records} <= set(grant.account_ids), template
        resource = RESOURCE_OF_KEY.get(key)
        if resource is not None:
            detail_seen = [f for r in records for f in DETAIL_FIELDS[resource] if f in r]
            level_detail = DETAIL_PERMISSION[key] in permissions
            if not level_detail:
                assert not detail_seen, f"{template}: Basic consent sees {detail_seen}"
            elif records and key in ("Account", "Transaction"):
                assert detail_seen, f"{template}: Detail consent sees no detail field"
        if key == "Transaction" and "ReadTransactionsDebits" not in permissions:
            assert {r["CreditDebitIndicator"] for r in records} <= {"Credit"}, template
    assert not problems, "\n".join(problems)


async def test_accounts_of_the_customer_outside_the_consent_are_not_shown(gw, db) -> None:  # type: ignore[no-untyped-def]
    mine = accounts_of("alice")
    grant = await make_grant(db, permissions=["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail",
                                              "ReadTransactionsCredits", "ReadTransactionsDebits"],
                             accounts=[mine[0].account_id])
    for path in ("/accounts", "/balances", "/transactions"):
        response = await gw.get(AIS + path, headers=grant.headers("GET", AIS + path))
        assert response.status_code == 200, response.text
        key = {"/accounts": "Account", "/balances": "Balance", "/transactions": "Transaction"}[path]
        assert {r["AccountId"] for r in _records(response.json(), key)} == {mine[0].account_id}
    other = f"{AIS}/accounts/{mine[1].account_id}/balances"
    refused = await gw.get(other, headers=grant.headers("GET", other))
    assert refused.status_code == 403
    assert refused.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.NotFound"


async def test_card_number_is_masked_without_read_pan(gw, db) -> None:  # type: ignore[no-untyped-def]
    without = await make_grant(db, username="carol", permissions=["ReadAccountsDetail"])
    with_pan = await make_grant(db, username="carol", permissions=["ReadAccountsDetail", "ReadPAN"])

    def pans(body: dict[str, Any]) -> list[str]:
        return [i["Identification"] for a in body["Data"]["Account"] for i in a.get("Account", [])
                if i["SchemeName"] == "UK.OBIE.PAN"]

    masked = await gw.get(AIS + "/accounts", headers=without.headers("GET", AIS + "/accounts"))
    clear = await gw.get(AIS + "/accounts", headers=with_pan.headers("GET", AIS + "/accounts"))
    assert masked.status_code == clear.status_code == 200
    assert pans(clear.json()) and all(p.isdigit() for p in pans(clear.json()))
    assert pans(masked.json()) == ["*" * (len(p) - 4) + p[-4:] for p in pans(clear.json())]
    assert json.dumps(masked.json()).count(pans(clear.json())[0]) == 0
