"""The sandbox bank's AIS resources (OBIE Read/Write API v3.1.11, docs/obie-notes.md section 2.1): every route answers in the official
v3.1.11 shape, only for consented accounts the customer holds, and only to a valid gateway context."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.security.keys import KeyStore
from sandbox.customers import account_id

from ._ais_helpers import OFFICIAL_SPEC
from ._ais_helpers import ais_context
from ._ais_helpers import validate_against_official

pytestmark = pytest.mark.skipif(not OFFICIAL_SPEC.is_file(), reason="official OBIE v3.1.11 document not present")

ALICE = account_id(key="alice-current")
JOINT = account_id(key="alice-bob-joint")
CAROL_CARD = account_id(key="carol-card")
DAVE = account_id(key="dave-business")


async def get(sandbox: httpx.AsyncClient, keys: KeyStore, path: str, *, username: str = "alice",
              **claims: Any) -> httpx.Response:
    return await sandbox.get(
        "/bank/v1/aisp" + path, headers={"x-obgw-context": ais_context(keys.context_key, username=username, **claims)}
    )


async def a_statement_id(sandbox: httpx.AsyncClient, keys: KeyStore, account: str, username: str) -> str:
    response = await get(sandbox, keys, f"/accounts/{account}/statements", username=username)
    assert response.status_code == 200, response.text
    return str(response.json()["Data"]["Statement"][-1]["StatementId"])


PER_ACCOUNT = [
    "", "/balances", "/transactions", "/beneficiaries", "/direct-debits", "/standing-orders", "/scheduled-payments",
    "/statements", "/party", "/parties", "/product", "/offers",
]
BULK = [
    "/accounts", "/balances", "/transactions", "/beneficiaries", "/direct-debits", "/standing-orders",
    "/scheduled-payments", "/statements", "/party", "/products", "/offers",
]


@pytest.mark.parametrize("username,key", [("alice", "alice-current"), ("bob", "alice-bob-joint"),
                                          ("carol", "carol-card"), ("dave", "dave-business"),
                                          ("erin", "erin-isa")])
@pytest.mark.parametrize("tail", PER_ACCOUNT)
async def test_every_per_account_resource_validates_against_the_official_spec(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore, username: str, key: str, tail: str
) -> None:
    path = f"/accounts/{account_id(key=key)}{tail}"
    response = await get(sandbox, gateway_keys, path, username=username)
    assert response.status_code == 200, response.text
    validate_against_official(path, response)


@pytest.mark.parametrize("username", ["alice", "carol", "dave", "erin"])
@pytest.mark.parametrize("path", BULK)
async def test_every_bulk_resource_validates_against_the_official_spec(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore, username: str, path: str
) -> None:
    response = await get(sandbox, gateway_keys, path, username=username)
    assert response.status_code == 200, response.text
    validate_against_official(path, response)


@pytest.mark.parametrize("tail", ["", "/transactions"])
async def test_a_statement_and_its_transactions_validate_against_the_official_spec(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore, tail: str
) -> None:
    statement_id = await a_statement_id(sandbox, gateway_keys, CAROL_CARD, "carol")
    path = f"/accounts/{CAROL_CARD}/statements/{statement_id}{tail}"
    response = await get(sandbox, gateway_keys, path, username="carol")
    assert response.status_code == 200, response.text
    validate_against_official(path, response)


async def test_statement_transactions_lie_inside_the_statement_period(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    statement = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements")).json()["Data"]["Statement"][0]
    body = (await get(sandbox, gateway_keys,
                      f"/accounts/{ALICE}/statements/{statement['StatementId']}/transactions")).json()
    booked = [t["BookingDateTime"] for t in body["Data"]["Transaction"]]
    assert booked
    assert all(statement["StartDateTime"] <= b <= statement["EndDateTime"] for b in booked)
    assert all(t["StatementReference"] == [statement["StatementReference"]] for t in body["Data"]["Transaction"])


async def test_statement_amounts_add_up(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    statement = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements")).json()["Data"]["Statement"][1]
    amounts = {a["Type"]: a for a in statement["StatementAmount"]}

    def signed(a: dict[str, Any]) -> float:
        value = float(a["Amount"]["Amount"])
        return value if a["CreditDebitIndicator"] == "Credit" else -value

    expected = (signed(amounts["UK.OBIE.PreviousClosingBalance"]) + float(amounts["UK.OBIE.TotalCredits"]["Amount"]["Amount"])
                - float(amounts["UK.OBIE.TotalDebits"]["Amount"]["Amount"]))
    assert round(expected, 2) == round(signed(amounts["UK.OBIE.ClosingBalance"]), 2)


async def test_statement_file_is_a_pdf(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    statement_id = await a_statement_id(sandbox, gateway_keys, ALICE, "alice")
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements/{statement_id}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-1.4") and response.content.rstrip().endswith(b"%%EOF")


async def test_unknown_statement_is_404(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    for tail in ("", "/file", "/transactions"):
        response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements/no-such-statement{tail}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


async def test_statement_file_needs_read_statements_detail(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    statement_id = await a_statement_id(sandbox, gateway_keys, ALICE, "alice")
    response = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/statements/{statement_id}/file",
                         permissions=["ReadStatementsBasic"])
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


async def test_links_self_is_the_gateways_public_uri(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    default = await get(sandbox, gateway_keys, f"/accounts/{ALICE}/balances")
    assert default.json()["Links"]["Self"] == f"http://127.0.0.1:8000/open-banking/v3.1/aisp/accounts/{ALICE}/balances"
    public = await sandbox.get(
        f"/bank/v1/aisp/accounts/{ALICE}",
        headers={"x-obgw-context": ais_context(gateway_keys.context_key), "x-obgw-public-base": "https://api.bank.example/"},
    )
    assert public.json()["Links"]["Self"] == f"https://api.bank.example/open-banking/v3.1/aisp/accounts/{ALICE}"


async def test_a_public_base_that_is_not_an_http_url_is_400(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await sandbox.get(
        "/bank/v1/aisp/accounts",
        headers={"x-obgw-context": ais_context(gateway_keys.context_key), "x-obgw-public-base": "javascript:alert(1)"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_interaction_id_is_echoed(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await sandbox.get(
        "/bank/v1/aisp/accounts",
        headers={"x-obgw-context": ais_context(gateway_keys.context_key), "x-fapi-interaction-id": "93bac548-d2de-4546-b106-880a5018460d"},
    )
    assert response.headers["x-fapi-interaction-id"] == "93bac548-d2de-4546-b106-880a5018460d"


async def test_credit_card_transactions_carry_the_card_instrument(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    body = (await get(sandbox, gateway_keys, f"/accounts/{CAROL_CARD}/transactions", username="carol")).json()
    cards = [t for t in body["Data"]["Transaction"] if "CardInstrument" in t]
    assert cards
    assert {t["CardInstrument"]["Identification"] for t in cards} == {"5555555555554444"}
    assert all(t["CardInstrument"]["CardSchemeName"] == "MasterCard" for t in cards)
    account = (await get(sandbox, gateway_keys, f"/accounts/{CAROL_CARD}", username="carol")).json()
    assert account["Data"]["Account"][0]["Account"][0]["SchemeName"] == "UK.OBIE.PAN"


async def test_joint_account_lists_both_holders(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    body = (await get(sandbox, gateway_keys, f"/accounts/{JOINT}/parties", username="bob")).json()
    parties = body["Data"]["Party"]
    assert [p["Name"] for p in parties] == ["Alice Andrews", "Bob Baker"]
    assert [p["AccountRole"] for p in parties] == ["UK.OBIE.Principal", "UK.OBIE.SecondaryOwner"]
    assert {p["PartyType"] for p in parties} == {"Joint"}


async def test_the_psu_party_is_the_signed_in_customer(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    body = (await get(sandbox, gateway_keys, "/party", username="dave")).json()
    assert body["Data"]["Party"]["Name"] == "Dave Dawson"
    owner = (await get(sandbox, gateway_keys, f"/accounts/{DAVE}/party", username="dave")).json()
    assert owner["Data"]["Party"]["Name"] == "Dawson's Bakery Ltd"
    assert owner["Data"]["Party"]["LegalStructure"] == "UK.OBIE.PrivateLimitedCompany"


async def test_standing_orders_appear_in_the_transactions(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    orders = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/standing-orders")).json()["Data"]["StandingOrder"]
    rent = next(o for o in orders if o["Reference"] == "FLAT 4 RENT")
    transactions = (await get(sandbox, gateway_keys, f"/accounts/{ALICE}/transactions?fromBookingDateTime="
                              + rent["LastPaymentDateTime"][:10])).json()["Data"]["Transaction"]
    assert any(t.get("TransactionReference") == "FLAT 4 RENT"
               and t["Amount"]["Amount"] == rent["LastPaymentAmount"]["Amount"] for t in transactions)
