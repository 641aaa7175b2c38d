"""The bank's internal API (contract in ``gateway.backend.bank``), reached through the gateway's real ``Bank`` client and
by hand for every refusal: nothing is answered without a valid ``x-obgw-context``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from gateway.backend.bank import Bank
from gateway.security.keys import KeyStore
from sandbox.customers import customer_id
from tests.helpers.bank import AsgiTransport

ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
async def bank(sandbox_app: Any, gateway_keys: KeyStore) -> Any:
    client = Bank(transport=AsgiTransport(sandbox_app), issuer=ISSUER, keys=gateway_keys)
    yield client
    await client.close()


def context(key: dict[str, Any], **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": "obgw-bank", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()),
        "purpose": "psu-authentication",
    }
    claims.update(changes)
    return jwt.encode(claims, jwt.PyJWK(key).key, algorithm=key["alg"], headers={"kid": key["kid"]})


async def test_good_credentials_name_the_customer(bank: Bank) -> None:
    psu = await bank.authenticate(username="alice", password="alice-wonderland")
    assert psu is not None
    assert psu.psu_id == customer_id(username="alice")
    assert psu.name == "Alice Andrews"


async def test_wrong_password_is_401_invalid_credentials(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await sandbox.post(
        "/bank/v1/psu-authentications",
        json={"username": "alice", "password": "wrong"},
        headers={"x-obgw-context": context(gateway_keys.context_key)},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


async def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    wrong = await sandbox.post(
        "/bank/v1/psu-authentications",
        json={"username": "alice", "password": "wrong"},
        headers={"x-obgw-context": context(gateway_keys.context_key)},
    )
    unknown = await sandbox.post(
        "/bank/v1/psu-authentications",
        json={"username": "mallory", "password": "wrong"},
        headers={"x-obgw-context": context(gateway_keys.context_key)},
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_bank_client_treats_refused_credentials_as_no_customer(bank: Bank) -> None:
    assert await bank.authenticate(username="bob", password="alice-wonderland") is None


async def test_missing_credentials_are_400(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await sandbox.post(
        "/bank/v1/psu-authentications",
        json={"username": "alice"},
        headers={"x-obgw-context": context(gateway_keys.context_key)},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["field"] == "password"


async def test_missing_context_is_401_and_answers_nothing(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post("/bank/v1/psu-authentications", json={"username": "alice", "password": "alice-wonderland"})
    assert response.status_code == 401
    assert response.json()["error"] == "context_required"
    assert "psu_id" not in response.text


async def test_context_signed_by_another_key_is_401(sandbox: httpx.AsyncClient) -> None:
    stranger = KeyStore.generate_in_memory().context_key
    response = await sandbox.post(
        "/bank/v1/psu-authentications",
        json={"username": "alice", "password": "alice-wonderland"},
        headers={"x-obgw-context": context(stranger)},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"


async def test_expired_context_is_401(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    past = int(time.time()) - 300
    response = await sandbox.post(
        "/bank/v1/psu-authentications",
        json={"username": "alice", "password": "alice-wonderland"},
        headers={"x-obgw-context": context(gateway_keys.context_key, iat=past, exp=past + 60)},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"


async def test_garbage_context_is_401(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.get(
        f"/bank/v1/customers/{customer_id(username='alice')}/accounts", headers={"x-obgw-context": "not.a.jwt"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"


async def test_context_for_another_purpose_is_401(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    psu_id = customer_id(username="alice")
    response = await sandbox.get(
        f"/bank/v1/customers/{psu_id}/accounts",
        headers={"x-obgw-context": context(gateway_keys.context_key, purpose="psu-authentication", psu_id=psu_id)},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_context"


async def test_context_for_another_customer_is_403(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await sandbox.get(
        f"/bank/v1/customers/{customer_id(username='alice')}/accounts",
        headers={
            "x-obgw-context": context(
                gateway_keys.context_key, purpose="account-directory", psu_id=customer_id(username="bob")
            )
        },
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


async def test_unknown_customer_is_404(sandbox: httpx.AsyncClient, gateway_keys: KeyStore) -> None:
    response = await sandbox.get(
        "/bank/v1/customers/nobody/accounts",
        headers={"x-obgw-context": context(gateway_keys.context_key, purpose="account-directory", psu_id="nobody")},
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_accounts_listing_includes_joint_accounts_masked(bank: Bank) -> None:
    alice = await bank.accounts(psu_id=customer_id(username="alice"))
    bob = await bank.accounts(psu_id=customer_id(username="bob"))
    assert {a.name for a in alice} == {"Alice's current account", "Rainy day savings", "Household joint account"}
    assert {a.account_id for a in alice} & {a.account_id for a in bob}
    assert all(a.currency == "GBP" and a.masked_identification.startswith("****") for a in alice)
    assert not any("40004012345678" in a.masked_identification for a in alice)


async def test_business_customer_has_business_accounts(bank: Bank) -> None:
    dave = await bank.accounts(psu_id=customer_id(username="dave"))
    assert dave and {a.account_type for a in dave} == {"Business"}
