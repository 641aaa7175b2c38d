"""Pushed authorization requests (RFC 9126) as the FAPI 2.0 Security Profile requires them: client-authenticated,
PKCE S256, response_type code, exact redirect_uri, scope within registration, signed request objects (RFC 9101)."""

from __future__ import annotations

import json

from gateway.security import jose
from gateway.store.oauth_tables import PushedRequest
from gateway.store.oauth_tables import secret_hash
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair

PREFIX = "urn:ietf:params:oauth:request_uri:"


async def test_par_answers_201_with_a_request_uri_and_expires_in(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["request_uri"].startswith(PREFIX)
    assert body["expires_in"] == settings.par_lifetime
    assert response.headers["cache-control"] == "no-store"
    async with db.session() as session:
        row = await session.get(PushedRequest, secret_hash(body["request_uri"][len(PREFIX):]))
    assert row is not None and row.client_id == fapi.client_id
    # RFC 9449 section 10: a DPoP proof at PAR binds the future code to that key.
    assert row.dpop_jkt == fapi.jkt


async def test_par_stores_claims_and_authorization_details_with_the_intent_id(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    consent_id = await lodge_account_access(db, fapi.client_id)
    details = [{"type": "openbanking_intent", "consent_id": consent_id}]
    response = await fapi.push(client, fapi.authorization_params(
        challenge=challenge, scope="openid accounts", authorization_details=json.dumps(details)))
    assert response.status_code == 201, response.text
    async with db.session() as session:
        row = await session.get(PushedRequest, secret_hash(response.json()["request_uri"][len(PREFIX):]))
    assert row is not None
    assert row.params["authorization_details"] == details
    assert row.params["intent_id"] == consent_id


async def test_par_accepts_dpop_jkt_without_a_proof(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge, dpop_jkt=fapi.jkt), dpop=False)
    assert response.status_code == 201, response.text
    async with db.session() as session:
        row = await session.get(PushedRequest, secret_hash(response.json()["request_uri"][len(PREFIX):]))
    assert row is not None and row.dpop_jkt == fapi.jkt


async def test_par_dpop_jkt_must_match_the_proof(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    other = jose.thumbprint(jose.public_jwk(jose.generate_key(alg="ES256")))
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge, dpop_jkt=other))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_par_without_pkce_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    params = fapi.authorization_params(challenge="x", code_challenge=None, code_challenge_method=None)
    response = await fapi.push(client, params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_par_with_plain_pkce_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    verifier, _ = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=verifier, code_challenge_method="plain"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_par_with_hybrid_response_type_is_refused(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge, response_type="code id_token"))
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_response_type"


async def test_par_with_unregistered_redirect_uri_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(
        challenge=challenge, redirect_uri="https://tpp.example.com/callback/"))  # not an exact match
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_par_without_redirect_uri_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge, redirect_uri=None))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_par_scope_beyond_registration_is_invalid_scope(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, scope="openid accounts")
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge, scope="openid payments"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_par_with_a_request_uri_parameter_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(
        challenge=challenge, request_uri=PREFIX + "a" * 43))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_par_without_client_authentication_is_invalid_client(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge), auth={})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_par_client_id_must_match_the_authenticated_client(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    other = await insert_client(db)
    _, challenge = pkce_pair()
    params = fapi.authorization_params(challenge=challenge, client_id=other.client_id)
    response = await fapi.push(client, params)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_par_with_a_malformed_claims_parameter_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await fapi.push(client, fapi.authorization_params(challenge=challenge, claims="{not json"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_par_accepts_a_signed_request_object_and_uses_only_its_claims(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    consent_id = await lodge_account_access(db, fapi.client_id)
    claims = {"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}}
    request_object = fapi.request_object(fapi.authorization_params(challenge=challenge, scope="openid accounts",
                                                                   claims=claims))
    # The plain scope parameter outside the request object is ignored (RFC 9126 section 3).
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": request_object, "scope": "payments"})
    assert response.status_code == 201, response.text
    async with db.session() as session:
        row = await session.get(PushedRequest, secret_hash(response.json()["request_uri"][len(PREFIX):]))
    assert row is not None
    assert row.params["scope"] == "openid accounts"
    assert row.params["intent_id"] == consent_id


async def test_par_request_object_with_a_bad_signature_is_invalid_request_object(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    forged = fapi.request_object(fapi.authorization_params(challenge=challenge),
                                 key={**jose.generate_key(alg="ES256"), "kid": fapi.key["kid"]})
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": forged})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_par_request_object_with_wrong_aud_is_invalid_request_object(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    wrong = fapi.request_object(fapi.authorization_params(challenge=challenge), aud="https://other-bank.example")
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": wrong})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_par_request_object_aud_array_containing_the_issuer_is_accepted(client, db) -> None:  # type: ignore[no-untyped-def]
    # FAPI 2.0 Message Signing 5.3.2: aud is, or is an array containing, the issuer identifier.
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    listed = fapi.request_object(fapi.authorization_params(challenge=challenge),
                                 aud=[fapi.issuer, "https://other-bank.example"])
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": listed})
    assert response.status_code == 201, response.text


async def test_par_request_object_aud_array_without_the_issuer_is_invalid_request_object(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    listed = fapi.request_object(fapi.authorization_params(challenge=challenge), aud=["https://other-bank.example"])
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": listed})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_par_expired_request_object_is_invalid_request_object(client, db) -> None:  # type: ignore[no-untyped-def]
    import time

    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    now = int(time.time())
    old = fapi.request_object(fapi.authorization_params(challenge=challenge), nbf=now - 600, exp=now - 300)
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": old})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_par_unsigned_request_object_is_invalid_request_object(client, db) -> None:  # type: ignore[no-untyped-def]
    import time

    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    now = int(time.time())
    claims = {"iss": fapi.client_id, "aud": "http://127.0.0.1:8000", "nbf": now, "exp": now + 300,
              **fapi.authorization_params(challenge=challenge)}
    unsigned = (jose.b64url(b'{"alg":"none","typ":"oauth-authz-req+jwt"}') + "."
                + jose.b64url(json.dumps(claims).encode()) + ".")
    response = await fapi.push(client, {"client_id": fapi.client_id, "request": unsigned})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request_object"


async def test_par_repeated_parameter_is_invalid_request(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    body = "&".join(f"{k}={v}" for k, v in {**fapi.authorization_params(challenge=challenge), **fapi.auth()}.items())
    response = await client.post("/par", content=body + "&scope=openid", headers={
        "content-type": "application/x-www-form-urlencoded", "DPoP": fapi.dpop("POST", "/par")})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
