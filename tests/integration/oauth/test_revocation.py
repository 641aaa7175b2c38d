"""Token revocation (RFC 7009): client-authenticated, own tokens only, unknown tokens answered 200, a refresh
token ends its whole grant."""

from __future__ import annotations

import httpx

from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import tokens_for


async def active(client: httpx.AsyncClient, fapi: FapiClient, token: str) -> bool:
    response = await client.post("/introspect", data={"token": token, **fapi.auth()})
    assert response.status_code == 200
    return bool(response.json()["active"])


async def test_revoked_access_token_introspects_inactive(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    issued = await tokens_for(client, fapi)
    response = await client.post("/revoke", data={"token": issued["access_token"],
                                                  "token_type_hint": "access_token", **fapi.auth()})
    assert response.status_code == 200
    assert await active(client, fapi, issued["access_token"]) is False
    # Revoking an access token leaves the refresh token alone.
    assert await active(client, fapi, issued["refresh_token"]) is True


async def test_revoking_a_refresh_token_revokes_its_access_tokens(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    issued = await tokens_for(client, fapi)
    # A wrong hint is only a hint (RFC 7009 section 2.1).
    response = await client.post("/revoke", data={"token": issued["refresh_token"],
                                                  "token_type_hint": "access_token", **fapi.auth()})
    assert response.status_code == 200
    assert await active(client, fapi, issued["refresh_token"]) is False
    assert await active(client, fapi, issued["access_token"]) is False
    refreshed = await fapi.token(client, {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_unknown_token_revocation_answers_200(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await client.post("/revoke", data={"token": "never-issued", **fapi.auth()})
    assert response.status_code == 200


async def test_another_clients_token_is_not_revoked(client, db) -> None:  # type: ignore[no-untyped-def]
    owner = await insert_client(db)
    other = await insert_client(db)
    issued = await tokens_for(client, owner)
    response = await client.post("/revoke", data={"token": issued["access_token"], **other.auth()})
    assert response.status_code == 200
    assert await active(client, owner, issued["access_token"]) is True


async def test_revocation_requires_client_authentication(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    issued = await tokens_for(client, fapi)
    response = await client.post("/revoke", data={"token": issued["access_token"], "client_id": fapi.client_id})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert await active(client, fapi, issued["access_token"]) is True


async def test_unknown_token_type_hint_is_unsupported_token_type(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await client.post("/revoke", data={"token": "x", "token_type_hint": "id_token", **fapi.auth()})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_token_type"
