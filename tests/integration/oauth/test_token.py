"""The token endpoint (RFC 6749 section 3.2) under the FAPI 2.0 Security Profile: code redemption with PKCE
and DPoP, refresh rotation, client credentials, sender-constrained tokens only."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from gateway import jose
from gateway.oauth.models import AuthorizationCode
from gateway.oauth.models import secret_hash
from gateway.oauth.models import utcnow
from tests.helpers.oauth import ISSUER
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import authorization_code
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import db  # noqa: F401  (fixture)
from tests.helpers.oauth import sandbox_app  # noqa: F401  (fixture)
from tests.helpers.oauth import tokens_for


async def introspect(client: httpx.AsyncClient, fapi: FapiClient, token: str) -> dict:  # type: ignore[type-arg]
    response = await client.post("/introspect", data={"token": token, **fapi.auth()})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def redeem(client: httpx.AsyncClient, fapi: FapiClient, code: str, verifier: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await fapi.token(client, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": fapi.redirect_uri, "code_verifier": verifier}, **kwargs)


async def test_code_flow_issues_dpop_bound_tokens_and_an_id_token(client, db, settings, gateway_keys) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    code, verifier, query = await authorization_code(
        client, fapi, claims='{"id_token": {"openbanking_intent_id": {"value": "aac-123", "essential": true}}}',
    )
    assert query["iss"] == ISSUER
    response = await redeem(client, fapi, code, verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert body["expires_in"] == settings.access_token_lifetime
    assert body["scope"] == "openid accounts"
    assert body["refresh_token"]
    id_claims = jose.verify(body["id_token"], key=jose.public_jwk(gateway_keys.current), audience=fapi.client_id,
                            issuer=ISSUER)
    assert id_claims["openbanking_intent_id"] == "aac-123"
    assert id_claims["acr"] == "urn:openbanking:psd2:sca"
    assert "auth_time" in id_claims and "nonce" in id_claims
    assert id_claims["http://openbanking.org.uk/refresh_token_expires_at"] > id_claims["iat"]
    assert jose.unverified_header(body["id_token"])["kid"] == gateway_keys.current["kid"]
    info = await introspect(client, fapi, body["access_token"])
    assert info["active"] is True
    assert info["cnf"] == {"jkt": fapi.jkt}
    assert info["openbanking_intent_id"] == "aac-123"
