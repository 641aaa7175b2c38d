"""The token endpoint (RFC 6749 section 3.2) under the FAPI 2.0 Security Profile: code redemption with PKCE
and DPoP, refresh rotation, client credentials, sender-constrained tokens only."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
from sqlalchemy import update

from gateway.security import jose
from gateway.store.db import utcnow
from gateway.store.oauth_tables import AuthorizationCode
from gateway.store.oauth_tables import secret_hash
from tests.helpers.consents import intent_claims
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import ISSUER
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import authorization_code
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import self_signed_certificate
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
    consent_id = await lodge_account_access(db, fapi.client_id)
    code, verifier, query = await authorization_code(client, fapi, scope="openid accounts",
                                                     claims=intent_claims(consent_id))
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
    assert id_claims["openbanking_intent_id"] == consent_id
    assert id_claims["acr"] == "urn:openbanking:psd2:sca"
    assert "auth_time" in id_claims and "nonce" in id_claims
    assert id_claims["http://openbanking.org.uk/refresh_token_expires_at"] > id_claims["iat"]
    assert jose.unverified_header(body["id_token"])["kid"] == gateway_keys.current["kid"]
    info = await introspect(client, fapi, body["access_token"])
    assert info["active"] is True
    assert info["cnf"] == {"jkt": fapi.jkt}
    assert info["openbanking_intent_id"] == consent_id


async def test_refresh_keeps_the_refresh_token_and_the_dpop_binding(client, db) -> None:  # type: ignore[no-untyped-def]
    # FAPI 2.0 SP 5.3.2.1: no refresh-token rotation; the refresh token is sender-constrained instead.
    fapi = await insert_client(db)
    first = await tokens_for(client, fapi)
    response = await fapi.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["token_type"] == "DPoP"
    assert second["refresh_token"] == first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "id_token" in second
    assert (await introspect(client, fapi, first["refresh_token"]))["active"] is True
    assert (await introspect(client, fapi, second["access_token"]))["cnf"] == {"jkt": fapi.jkt}
    again = await fapi.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert again.status_code == 200, again.text


async def test_client_credentials_issues_a_dpop_token_without_refresh_or_openid(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, scope="openid accounts payments")
    response = await fapi.token(client, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert body["scope"] == "accounts payments"
    assert "refresh_token" not in body and "id_token" not in body


async def test_client_credentials_scope_beyond_registration_is_invalid_scope(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, scope="openid accounts")
    response = await fapi.token(client, {"grant_type": "client_credentials", "scope": "payments"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_client_credentials_cannot_ask_for_openid(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, scope="openid accounts")
    response = await fapi.token(client, {"grant_type": "client_credentials", "scope": "openid accounts"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_token_request_without_sender_constraint_is_refused(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await fapi.token(client, {"grant_type": "client_credentials"}, dpop=False)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "sender-constrained" in response.json()["error_description"]


async def test_unsupported_grant_type(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await fapi.token(client, {"grant_type": "password", "username": "a", "password": "b"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_grant_the_client_did_not_register_is_unauthorized_client(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, grant_types=("authorization_code", "refresh_token"))
    response = await fapi.token(client, {"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_token_endpoint_accepts_form_encoding_only(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await client.post("/token", json={"grant_type": "client_credentials", **fapi.auth()},
                                 headers={"DPoP": fapi.dpop("POST", "/token")})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_token_request_without_client_authentication_is_invalid_client(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await client.post("/token", data={"grant_type": "client_credentials", "client_id": fapi.client_id},
                                 headers={"DPoP": fapi.dpop("POST", "/token")})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_bad_dpop_proof_is_invalid_dpop_proof(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await fapi.token(client, {"grant_type": "client_credentials"},
                                headers={"DPoP": fapi.dpop("POST", "/par")})  # htu names another endpoint
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_reused_code_is_invalid_grant_and_revokes_the_first_tokens(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    code, verifier, _ = await authorization_code(client, fapi)
    first = await redeem(client, fapi, code, verifier)
    assert first.status_code == 200
    again = await redeem(client, fapi, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # RFC 6749 section 4.1.2: tokens issued from the replayed code are revoked.
    assert (await introspect(client, fapi, first.json()["access_token"]))["active"] is False
    assert (await introspect(client, fapi, first.json()["refresh_token"]))["active"] is False


async def test_expired_code_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    code, verifier, _ = await authorization_code(client, fapi)
    async with db.session() as session:
        await session.execute(update(AuthorizationCode)
                              .where(AuthorizationCode.code_hash == secret_hash(code))  # type: ignore[arg-type]
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    response = await redeem(client, fapi, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_lives_at_most_sixty_seconds(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    code, _, _ = await authorization_code(client, fapi)
    async with db.session() as session:
        row = await session.get(AuthorizationCode, secret_hash(code))
    assert row is not None
    assert timedelta(0) < row.expires_at - row.auth_time <= timedelta(seconds=61)
    assert row.expires_at - utcnow() <= timedelta(seconds=min(settings.code_lifetime, 60))


async def test_wrong_code_verifier_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    code, _, _ = await authorization_code(client, fapi)
    other_verifier, _ = pkce_pair()
    response = await redeem(client, fapi, code, other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_redirect_uri_different_from_the_request_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, redirect_uris=("https://tpp.example.com/callback", "https://tpp.example.com/other"))
    code, verifier, _ = await authorization_code(client, fapi)
    response = await fapi.token(client, {"grant_type": "authorization_code", "code": code,
                                         "redirect_uri": "https://tpp.example.com/other", "code_verifier": verifier})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_of_another_client_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    owner = await insert_client(db)
    thief = await insert_client(db)
    code, verifier, _ = await authorization_code(client, owner)
    response = await redeem(client, thief, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    # The rightful client can still redeem it: a foreign attempt does not burn the code.
    assert (await redeem(client, owner, code, verifier)).status_code == 200


async def test_dpop_key_different_from_the_par_key_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    code, verifier, _ = await authorization_code(client, fapi)
    response = await redeem(client, fapi, code, verifier, dpop_key=jose.generate_key(alg="ES256"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_bound_to_a_dpop_key_cannot_be_redeemed_with_a_certificate(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    cert, _ = self_signed_certificate()
    fapi = await insert_client(db)
    code, verifier, _ = await authorization_code(client, fapi)
    response = await redeem(client, fapi, code, verifier, dpop=False, headers={settings.client_cert_header: cert})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_with_another_dpop_key_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    first = await tokens_for(client, fapi)
    response = await fapi.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                                dpop_key=jose.generate_key(alg="ES256"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_revoked_refresh_token_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    first = await tokens_for(client, fapi)
    revoked = await client.post("/revoke", data={"token": first["refresh_token"], **fapi.auth()})
    assert revoked.status_code == 200
    replay = await fapi.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert (await introspect(client, fapi, first["access_token"]))["active"] is False


async def test_refresh_token_of_another_client_is_invalid_grant(client, db) -> None:  # type: ignore[no-untyped-def]
    owner = await insert_client(db)
    thief = await insert_client(db)
    first = await tokens_for(client, owner)
    response = await thief.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_cannot_widen_the_scope(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    first = await tokens_for(client, fapi)
    response = await fapi.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                         "scope": "openid accounts payments"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_client_certificate_gives_a_certificate_bound_bearer_token(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    header, _ = self_signed_certificate()
    fapi = await insert_client(db)
    response = await fapi.token(client, {"grant_type": "client_credentials"}, dpop=False,
                                headers={settings.client_cert_header: header})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    expected = jose.certificate_thumbprint(base64.b64decode(header.strip(":")))
    assert (await introspect(client, fapi, body["access_token"]))["cnf"] == {"x5t#S256": expected}


async def test_refresh_of_a_certificate_bound_token_needs_the_same_certificate(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    first_cert, _ = self_signed_certificate()
    other_cert, _ = self_signed_certificate()
    fapi = await insert_client(db)
    code, verifier, _ = await authorization_code(client, fapi, dpop=False)
    issued = await fapi.token(client, {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": fapi.redirect_uri, "code_verifier": verifier},
                              dpop=False, headers={settings.client_cert_header: first_cert})
    assert issued.status_code == 200, issued.text
    refresh = {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}
    wrong = await fapi.token(client, refresh, dpop=False, headers={settings.client_cert_header: other_cert})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    right = await fapi.token(client, refresh, dpop=False, headers={settings.client_cert_header: first_cert})
    assert right.status_code == 200
    assert right.json()["token_type"] == "Bearer"
