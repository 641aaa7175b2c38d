"""Client authentication at the token endpoint: FAPI 2.0 SP 5.3.2.1 allows private_key_jwt (RFC 7523,
``aud`` = issuer only, short-lived, single-use ``jti``) and tls_client_auth (RFC 8705 section 2.1.2,
certificate from the trusted TLS terminator only). Every failure is 401 ``invalid_client``."""

from __future__ import annotations

import time
import urllib.parse

import httpx
import pytest
from sqlalchemy import update

from gateway.security import jose
from gateway.store.oauth_tables import Client
from tests.helpers.oauth import ASSERTION_TYPE
from tests.helpers.oauth import FORM
from tests.helpers.oauth import ISSUER
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import from_now
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import self_signed_certificate

CC = {"grant_type": "client_credentials", "scope": "accounts"}


async def _token_with(client: httpx.AsyncClient, fapi: FapiClient, auth: dict[str, str],
                      headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {**FORM, "DPoP": fapi.dpop("POST", "/token"), **(headers or {})}
    return await client.post("/token", data={**CC, **auth}, headers=sent)


def _assert_invalid_client(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["cache-control"] == "no-store"


async def test_private_key_jwt_with_aud_issuer_is_accepted(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await _token_with(client, fapi, fapi.auth())
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": ISSUER + "/token"},
        {"aud": [ISSUER, ISSUER + "/token"]},
        {"aud": [ISSUER]},
        {"exp": from_now(-5)},
        {"iat": from_now(120)},
        {"iat": from_now(-120)},
        {"jti": ""},
        {"sub": "someone-else"},
    ],
    ids=["aud-token-endpoint", "aud-several-values", "aud-array-of-the-issuer", "expired", "iat-in-future",
         "iat-too-old", "jti-missing", "sub-not-client"],
)
async def test_assertion_claims_outside_fapi_rules_are_invalid_client(
    client: httpx.AsyncClient, db, overrides: dict[str, object]  # type: ignore[no-untyped-def]
) -> None:
    fapi = await insert_client(db)
    _assert_invalid_client(await _token_with(client, fapi, fapi.auth(**overrides)))


async def test_assertion_without_exp_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    now = int(time.time())
    claims = {"iss": fapi.client_id, "sub": fapi.client_id, "aud": ISSUER, "jti": jose.new_jti(), "iat": now}
    auth = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": jose.sign(claims, key=fapi.key)}
    _assert_invalid_client(await _token_with(client, fapi, auth))


async def test_assertion_without_iat_may_not_live_long(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    now = int(time.time())
    claims = {"iss": fapi.client_id, "sub": fapi.client_id, "aud": ISSUER, "jti": jose.new_jti(), "exp": now + 3600}
    auth = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": jose.sign(claims, key=fapi.key)}
    _assert_invalid_client(await _token_with(client, fapi, auth))


async def test_assertion_with_fresh_iat_and_one_hour_exp_is_accepted(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    # Client libraries commonly default to exp = iat + 3600; iat freshness bounds the replay window instead.
    fapi = await insert_client(db)
    response = await _token_with(client, fapi, fapi.auth(exp=int(time.time()) + 3600))
    assert response.status_code == 200, response.text


async def test_assertion_jti_is_single_use(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    auth = fapi.auth()
    assert (await _token_with(client, fapi, auth)).status_code == 200
    _assert_invalid_client(await _token_with(client, fapi, auth))


async def test_assertion_signed_by_an_unregistered_key_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    stranger = FapiClient(client_id=fapi.client_id, key=jose.generate_key(alg="ES256", kid=fapi.key["kid"]))
    _assert_invalid_client(await _token_with(client, fapi, stranger.auth()))


async def test_assertion_signed_with_rs256_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    rsa = jose.generate_key(alg="PS256")
    fapi = await insert_client(db, key=rsa)
    now = int(time.time())
    claims = {"iss": fapi.client_id, "sub": fapi.client_id, "aud": ISSUER, "jti": jose.new_jti(),
              "iat": now, "exp": now + 60}
    import jwt

    token = jwt.encode(claims, jose.load_key(rsa).key, algorithm="RS256", headers={"kid": rsa["kid"]})
    auth = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": token}
    _assert_invalid_client(await _token_with(client, fapi, auth))


async def test_unsigned_assertion_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    now = int(time.time())
    header = jose.b64url(b'{"alg":"none","typ":"JWT"}')
    body = jose.b64url(
        f'{{"iss":"{fapi.client_id}","sub":"{fapi.client_id}","aud":"{ISSUER}","jti":"x","exp":{now + 60}}}'.encode()
    )
    auth = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": f"{header}.{body}."}
    _assert_invalid_client(await _token_with(client, fapi, auth))


async def test_wrong_assertion_type_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    auth = {**fapi.auth(), "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}
    _assert_invalid_client(await _token_with(client, fapi, auth))


async def test_unknown_client_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    ghost = FapiClient(client_id="no-such-client", key=jose.generate_key(alg="ES256"))
    _assert_invalid_client(await _token_with(client, ghost, ghost.auth()))


async def test_client_secret_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _assert_invalid_client(
        await _token_with(client, fapi, {"client_id": fapi.client_id, "client_secret": "hunter2"})
    )


async def test_http_basic_client_authentication_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await _token_with(client, fapi, {"client_id": fapi.client_id},
                                 headers={"Authorization": "Basic " + jose.b64url(b"id:secret")})
    _assert_invalid_client(response)


async def test_suspended_client_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    async with db.session() as session:
        await session.exec(update(Client).where(Client.client_id == fapi.client_id).values(status="suspended"))  # type: ignore[call-overload]
        await session.commit()
    _assert_invalid_client(await _token_with(client, fapi, fapi.auth()))


async def test_private_key_jwt_client_cannot_use_tls_client_auth(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    cert, _ = self_signed_certificate()
    response = await _token_with(client, fapi, {"client_id": fapi.client_id}, headers={"x-ssl-client-cert": cert})
    _assert_invalid_client(response)


# ---------------------------------------------------------------------------- tls_client_auth


async def _tls_client(db, dn: str) -> FapiClient:  # type: ignore[no-untyped-def]
    return await insert_client(db, method="tls_client_auth", tls_client_auth_subject_dn=dn)


async def test_tls_client_auth_with_the_registered_certificate_gets_a_certificate_bound_token(
    client: httpx.AsyncClient, db  # type: ignore[no-untyped-def]
) -> None:
    cert, dn = self_signed_certificate("tpp-one")
    fapi = await _tls_client(db, dn)
    response = await client.post("/token", data={**CC, "client_id": fapi.client_id},
                                 headers={**FORM, "x-ssl-client-cert": cert})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


async def test_tls_client_auth_accepts_the_nginx_escaped_pem_form(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    import base64

    cert, dn = self_signed_certificate("tpp-pem")
    der = base64.b64decode(cert.strip(":"))
    body = base64.encodebytes(der).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
    fapi = await _tls_client(db, dn)
    response = await client.post("/token", data={**CC, "client_id": fapi.client_id},
                                 headers={**FORM, "x-ssl-client-cert": urllib.parse.quote(pem)})
    assert response.status_code == 200, response.text


async def test_tls_client_auth_without_a_certificate_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    _, dn = self_signed_certificate("tpp-two")
    fapi = await _tls_client(db, dn)
    _assert_invalid_client(await client.post("/token", data={**CC, "client_id": fapi.client_id}, headers=FORM))


async def test_tls_client_auth_with_another_subject_is_invalid_client(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    _, dn = self_signed_certificate("tpp-three")
    other, _ = self_signed_certificate("impostor")
    fapi = await _tls_client(db, dn)
    response = await client.post("/token", data={**CC, "client_id": fapi.client_id},
                                 headers={**FORM, "x-ssl-client-cert": other})
    _assert_invalid_client(response)


async def test_tls_client_auth_with_a_malformed_certificate_header_is_invalid_client(
    client: httpx.AsyncClient, db  # type: ignore[no-untyped-def]
) -> None:
    _, dn = self_signed_certificate("tpp-four")
    fapi = await _tls_client(db, dn)
    response = await client.post("/token", data={**CC, "client_id": fapi.client_id},
                                 headers={**FORM, "x-ssl-client-cert": ":bm90IGEgY2VydA==:"})
    _assert_invalid_client(response)


async def test_certificate_header_from_an_untrusted_peer_is_ignored(gateway_app, db) -> None:  # type: ignore[no-untyped-def]
    cert, dn = self_signed_certificate("tpp-five")
    fapi = await _tls_client(db, dn)
    transport = httpx.ASGITransport(app=gateway_app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as outsider:
        response = await outsider.post("/token", data={**CC, "client_id": fapi.client_id},
                                       headers={**FORM, "x-ssl-client-cert": cert})
    _assert_invalid_client(response)


async def test_assertion_aud_array_names_the_single_string_rule(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await _token_with(client, fapi, fapi.auth(aud=[ISSUER]))
    _assert_invalid_client(response)
    assert "5.3.2.1" in response.json()["error_description"]
    assert "not an array" in response.json()["error_description"]
