"""Sender-constrained tokens at a protected resource (here the client's own registration, RFC 7592):
RFC 9449 sections 4.3 and 7 for DPoP-bound tokens, RFC 8705 section 3 for certificate-bound ones.
Failures are 401 with a ``WWW-Authenticate`` challenge naming the error."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gateway.security import jose
from tests.helpers.bank import sandbox_transports
from tests.helpers.oauth import FORM
from tests.helpers.oauth import ISSUER
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import from_now
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import self_signed_certificate


async def _cc_token(client: httpx.AsyncClient, fapi: FapiClient) -> str:
    response = await fapi.token(client, {"grant_type": "client_credentials", "scope": "accounts"})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _read_registration(client: httpx.AsyncClient, fapi: FapiClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get(f"/register/{fapi.client_id}", headers=headers)


def _dpop_headers(fapi: FapiClient, token: str, **overrides: Any) -> dict[str, str]:
    path = f"/register/{fapi.client_id}"
    return {"Authorization": f"DPoP {token}", "DPoP": fapi.dpop("GET", path, access_token=token, **overrides)}


def _assert_challenge(response: httpx.Response, error: str) -> None:
    assert response.status_code == 401, response.text
    assert f'error="{error}"' in response.headers["www-authenticate"]


async def test_dpop_bound_token_with_a_fresh_proof_is_accepted(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    response = await _read_registration(client, fapi, _dpop_headers(fapi, token))
    assert response.status_code == 200, response.text


async def test_dpop_bound_token_sent_as_bearer_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    headers = {"Authorization": f"Bearer {token}", "DPoP": fapi.dpop("GET", f"/register/{fapi.client_id}", access_token=token)}
    _assert_challenge(await _read_registration(client, fapi, headers), "invalid_token")


async def test_dpop_bound_token_without_a_proof_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    _assert_challenge(await _read_registration(client, fapi, {"Authorization": f"DPoP {token}"}), "invalid_dpop_proof")


@pytest.mark.parametrize(
    "overrides",
    [
        {"htm": "POST"},
        {"htu": ISSUER + "/register/someone-else"},
        {"htu": "https://elsewhere.example/register"},
        {"iat": from_now(-120)},
        {"iat": from_now(60)},
        {"ath": jose.sha256_b64url("another-token")},
        {"jti": ""},
    ],
    ids=["htm", "htu-path", "htu-origin", "iat-too-old", "iat-in-future", "ath", "no-jti"],
)
async def test_proof_claims_that_do_not_match_the_request_are_invalid_dpop_proof(
    client: httpx.AsyncClient, db, overrides: dict[str, Any]  # type: ignore[no-untyped-def]
) -> None:
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    _assert_challenge(await _read_registration(client, fapi, _dpop_headers(fapi, token, **overrides)), "invalid_dpop_proof")


async def test_proof_signed_by_another_key_than_the_token_is_bound_to_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    other = jose.generate_key(alg="ES256")
    headers = {"Authorization": f"DPoP {token}",
               "DPoP": fapi.dpop("GET", f"/register/{fapi.client_id}", access_token=token, key=other)}
    _assert_challenge(await _read_registration(client, fapi, headers), "invalid_dpop_proof")


async def test_proof_jti_is_single_use(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    headers = _dpop_headers(fapi, token)
    assert (await _read_registration(client, fapi, headers)).status_code == 200
    _assert_challenge(await _read_registration(client, fapi, headers), "invalid_dpop_proof")


def _proof_with_header(fapi: FapiClient, token: str, header: dict[str, Any], *, key: dict[str, Any] | None = None,
                       alg: str | None = None) -> str:
    claims = {"jti": jose.new_jti(), "htm": "GET", "htu": f"{ISSUER}/register/{fapi.client_id}",
              "iat": int(time.time()), "ath": jose.sha256_b64url(token)}
    signer = key or fapi.dpop_key
    return jose.sign(claims, key={k: v for k, v in signer.items() if k != "kid"}, headers=header, alg=alg)


async def test_proof_with_wrong_typ_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    proof = _proof_with_header(fapi, token, {"typ": "JWT", "jwk": jose.public_jwk(fapi.dpop_key)})
    _assert_challenge(await _read_registration(client, fapi, {"Authorization": f"DPoP {token}", "DPoP": proof}),
                      "invalid_dpop_proof")


async def test_proof_carrying_a_private_key_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    proof = _proof_with_header(fapi, token, {"typ": "dpop+jwt", "jwk": dict(fapi.dpop_key)})
    _assert_challenge(await _read_registration(client, fapi, {"Authorization": f"DPoP {token}", "DPoP": proof}),
                      "invalid_dpop_proof")


async def test_proof_signed_with_hs256_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    import jwt

    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    claims = {"jti": jose.new_jti(), "htm": "GET", "htu": f"{ISSUER}/register/{fapi.client_id}",
              "iat": int(time.time()), "ath": jose.sha256_b64url(token)}
    proof = jwt.encode(claims, "k" * 32, algorithm="HS256",
                       headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": jose.b64url(b"k" * 32)}})
    _assert_challenge(await _read_registration(client, fapi, {"Authorization": f"DPoP {token}", "DPoP": proof}),
                      "invalid_dpop_proof")


async def test_two_dpop_headers_are_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    token = await _cc_token(client, fapi)
    path = f"/register/{fapi.client_id}"
    headers = [("Authorization", f"DPoP {token}"),
               ("DPoP", fapi.dpop("GET", path, access_token=token)),
               ("DPoP", fapi.dpop("GET", path, access_token=token))]
    response = await client.get(path, headers=headers)
    _assert_challenge(response, "invalid_dpop_proof")


async def test_unknown_token_is_invalid_token(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _assert_challenge(await _read_registration(client, fapi, _dpop_headers(fapi, "not-a-token")), "invalid_token")


async def test_missing_authorization_gets_a_challenge_without_error(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await _read_registration(client, fapi, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("DPoP ")


async def test_server_nonce_is_demanded_when_configured(settings, gateway_keys, sandbox_app) -> None:  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    from gateway.app import create_app
    from gateway.store.db import Database

    app = create_app(settings.replace(dpop_nonce_required=True), keys=gateway_keys,
                     **sandbox_transports(sandbox_app), create_schema=True)
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=ISSUER) as http:
            db = Database(settings.database_url)
            fapi = await insert_client(db)
            await db.dispose()
            first = await fapi.token(http, {"grant_type": "client_credentials", "scope": "accounts"})
            assert first.status_code == 400
            assert first.json()["error"] == "use_dpop_nonce"
            nonce = first.headers["dpop-nonce"]
            form = {"grant_type": "client_credentials", "scope": "accounts", **fapi.auth()}
            second = await http.post("/token", data=form,
                                     headers={**FORM, "DPoP": fapi.dpop("POST", "/token", nonce=nonce)})
            assert second.status_code == 200, second.text
            forged = await http.post("/token", data={**form, **fapi.auth()},
                                     headers={**FORM, "DPoP": fapi.dpop("POST", "/token", nonce="forged")})
            assert forged.json()["error"] == "use_dpop_nonce"


# ---------------------------------------------------------------------------- certificate-bound


async def _certificate_bound(client: httpx.AsyncClient, db) -> tuple[FapiClient, str, str]:  # type: ignore[no-untyped-def]
    cert, dn = self_signed_certificate("tpp-bound")
    fapi = await insert_client(db, method="tls_client_auth", tls_client_auth_subject_dn=dn)
    response = await client.post("/token", data={"grant_type": "client_credentials", "scope": "accounts",
                                                 "client_id": fapi.client_id},
                                 headers={**FORM, "x-ssl-client-cert": cert})
    assert response.status_code == 200, response.text
    return fapi, cert, str(response.json()["access_token"])


async def test_certificate_bound_token_with_its_certificate_is_accepted(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi, cert, token = await _certificate_bound(client, db)
    response = await _read_registration(client, fapi, {"Authorization": f"Bearer {token}", "x-ssl-client-cert": cert})
    assert response.status_code == 200, response.text


async def test_certificate_bound_token_with_another_certificate_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi, _, token = await _certificate_bound(client, db)
    other, _ = self_signed_certificate("tpp-bound")
    response = await _read_registration(client, fapi, {"Authorization": f"Bearer {token}", "x-ssl-client-cert": other})
    _assert_challenge(response, "invalid_token")


async def test_certificate_bound_token_without_a_certificate_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    fapi, _, token = await _certificate_bound(client, db)
    _assert_challenge(await _read_registration(client, fapi, {"Authorization": f"Bearer {token}"}), "invalid_token")


async def test_htu_is_compared_after_percent_decoding(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    # RFC 9449 section 4.3: the URI comparison follows RFC 3986 normalisation.
    fapi = await insert_client(db)
    response = await fapi.token(client, {"grant_type": "client_credentials", "scope": "accounts"})
    token = response.json()["access_token"]
    path = "/open-banking/v3.1/aisp/account-access-consents/a%20b"
    proof = fapi.dpop("GET", path, access_token=token)
    answer = await client.get(path, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert answer.status_code == 400, answer.text  # reaches the handler: unknown consent id
    assert answer.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Resource.NotFound"
