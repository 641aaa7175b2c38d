"""Token introspection (RFC 7662): client-authenticated, own tokens only, RFC 9449 / RFC 8705 ``cnf``."""

from __future__ import annotations

from tests.helpers.consents import intent_details
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import tokens_for


async def test_introspection_describes_an_active_access_token(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    consent_id = await lodge_account_access(db, fapi.client_id)
    issued = await tokens_for(client, fapi, scope="openid accounts", authorization_details=intent_details(consent_id))
    response = await client.post("/introspect", data={"token": issued["access_token"], **fapi.auth()})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["client_id"] == fapi.client_id
    assert body["scope"] == "openid accounts"
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": fapi.jkt}
    assert body["sub"]
    assert body["openbanking_intent_id"] == consent_id
    assert body["exp"] - body["iat"] == settings.access_token_lifetime


async def test_another_clients_token_is_inactive(client, db) -> None:  # type: ignore[no-untyped-def]
    owner = await insert_client(db)
    other = await insert_client(db)
    issued = await tokens_for(client, owner)
    response = await client.post("/introspect", data={"token": issued["access_token"], **other.auth()})
    assert response.status_code == 200
    assert response.json() == {"active": False}


async def test_unknown_token_is_inactive(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await client.post("/introspect", data={"token": "no-such-token", **fapi.auth()})
    assert response.status_code == 200
    assert response.json() == {"active": False}


async def test_introspection_requires_client_authentication(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    issued = await tokens_for(client, fapi)
    response = await client.post("/introspect", data={"token": issued["access_token"], "client_id": fapi.client_id})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_introspection_without_token_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await client.post("/introspect", data=fapi.auth())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
