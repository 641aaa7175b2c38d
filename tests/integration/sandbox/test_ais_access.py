"""Who the bank's AIS API answers: only the gateway (a valid ``x-obgw-context`` with purpose ``ais``), only for
accounts in the consent that the customer holds, and only for resources the consent's permissions open."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gateway.security.keys import KeyStore
from sandbox.customers import account_id

from ._ais_helpers import ais_context

ALICE = account_id(key="alice-current")
ALICE_SAVINGS = account_id(key="alice-savings")
BOB = account_id(key="bob-current")


async def get(sandbox: httpx.AsyncClient, path: str, token: str | None) -> httpx.Response:
    headers = {"x-obgw-context": token} if token is not None else {}
    return await sandbox.get("/bank/v1/aisp" + path, headers=headers)


def assert_refused(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "Data" not in response.text


async def test_missing_context_is_401(sandbox: httpx.AsyncClient) -> None:
    assert_refused(await get(sandbox, "/accounts", None), 401, "context_required")


async def test_context_signed_by_another_key_is_401(sandbox: httpx.AsyncClient) -> None:
    stranger = KeyStore.generate_in_memory().context_key
    assert_refused(await get(sandbox, "/accounts", ais_context(stranger)), 401, "invalid_context")


async def test_expired_context_is_401(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    past = int(time.time()) - 300
    token = ais_context(gateway_keys.context_key, iat=past, exp=past + 60)
    assert_refused(await get(sandbox, "/accounts", token), 401, "invalid_context")


async def test_a_replayed_context_is_401(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    token = ais_context(gateway_keys.context_key)
    assert (await get(sandbox, "/accounts", token)).status_code == 200
    assert_refused(await get(sandbox, "/accounts", token), 401, "invalid_context")


@pytest.mark.parametrize(
    "changes",
    [
        {"purpose": "account-directory"},
        {"psu_id": None},
        {"consent_id": None},
        {"consent_id": ""},
        {"account_ids": None},
        {"account_ids": "not-a-list"},
        {"account_ids": [1, 2]},
        {"permissions": None},
        {"permissions": "ReadBalances"},
        {"transaction_from": "last tuesday"},
        {"transaction_to": True},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
async def test_a_context_without_well_formed_ais_claims_is_401(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore, changes: dict[str, Any]
) -> None:
    token = ais_context(gateway_keys.context_key, **changes)
    assert_refused(await get(sandbox, "/accounts", token), 401, "invalid_context")


async def test_another_customers_account_is_403_even_if_named_in_the_consent(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    token = ais_context(gateway_keys.context_key, username="alice", account_ids=[ALICE, BOB])
    assert_refused(await get(sandbox, f"/accounts/{BOB}/transactions", token), 403, "forbidden")


async def test_an_account_outside_the_consent_is_403(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    token = ais_context(gateway_keys.context_key, account_ids=[ALICE])
    assert_refused(await get(sandbox, f"/accounts/{ALICE_SAVINGS}/balances", token), 403, "forbidden")


async def test_an_unknown_account_gets_the_same_403(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    token = ais_context(gateway_keys.context_key, account_ids=[ALICE, "no-such-account"])
    assert_refused(await get(sandbox, "/accounts/no-such-account", token), 403, "forbidden")


async def test_bulk_endpoints_drop_accounts_outside_the_consent_or_not_held(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    token = ais_context(gateway_keys.context_key, account_ids=[ALICE, BOB])
    accounts = (await get(sandbox, "/accounts", token)).json()["Data"]["Account"]
    assert [a["AccountId"] for a in accounts] == [ALICE]
    for path, key in (("/balances", "Balance"), ("/transactions", "Transaction"), ("/standing-orders", "StandingOrder"),
                      ("/statements", "Statement"), ("/products", "Product")):
        body = (await get(sandbox, path, ais_context(gateway_keys.context_key, account_ids=[ALICE, BOB]))).json()
        assert body["Data"][key], path
        assert {item["AccountId"] for item in body["Data"][key]} == {ALICE}, path


async def test_balances_of_a_consent_with_no_usable_account_are_403(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    token = ais_context(gateway_keys.context_key, account_ids=[BOB])
    assert_refused(await get(sandbox, "/balances", token), 403, "forbidden")


@pytest.mark.parametrize(
    "path,permissions",
    [
        ("/accounts", ["ReadBalances"]),
        ("/balances", ["ReadAccountsDetail"]),
        ("/transactions", ["ReadAccountsDetail", "ReadTransactionsCredits"]),
        ("/transactions", ["ReadTransactionsDetail"]),
        ("/party", ["ReadParty"]),
        (f"/accounts/{ALICE}/party", ["ReadPartyPSU"]),
        ("/offers", ["ReadProducts"]),
        ("/direct-debits", ["ReadStandingOrdersDetail"]),
    ],
)
async def test_a_resource_the_permissions_do_not_open_is_403(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore, path: str, permissions: list[str]
) -> None:
    token = ais_context(gateway_keys.context_key, permissions=permissions)
    assert_refused(await get(sandbox, path, token), 403, "forbidden")
