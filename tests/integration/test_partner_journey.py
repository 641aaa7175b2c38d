"""Journey 1-3 of docs/architecture.md section 1, driven by a standards-following client that nobody on the team
wrote: authlib's OAuth 2 client for the grants and client authentication, joserfc (authlib's JOSE
library) for DPoP proofs and ID-token checks. Everything starts from the discovery document and a
software statement issued by the sandbox portal; nothing is inserted behind the gateway's back."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt as jrfc_jwt
from joserfc.jwk import KeySet

from tests.conftest import ISSUER
from tests.helpers.tpp import PSU
from tests.helpers.tpp import REDIRECT_URI
from tests.helpers.tpp import DPoP
from tests.helpers.tpp import app_request
from tests.helpers.tpp import client_authenticated_form
from tests.helpers.tpp import intent_claims
from tests.helpers.tpp import registration_request


async def _onboard(sandbox: httpx.AsyncClient, *, auth_method: str) -> dict[str, Any]:
    response = await sandbox.post("/portal/api/apps", json=app_request(auth_method=auth_method))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _register(client: httpx.AsyncClient, app: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(meta["registration_endpoint"], json=registration_request(app))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _pem_header(pem: str) -> str:
    return urllib.parse.quote(pem)


@pytest.fixture
async def meta(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def _create_consent(client: httpx.AsyncClient, token: str, dpop: DPoP) -> str:
    url = f"{ISSUER}/open-banking/v3.1/aisp/account-access-consents"
    body = {"Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}}
    response = await client.post(url, json=body, headers={
        "Authorization": f"DPoP {token}", "DPoP": dpop.proof("POST", url, access_token=token),
    })
    assert response.status_code == 201, response.text
    return str(response.json()["Data"]["ConsentId"])


async def test_private_key_jwt_and_dpop_from_discovery_and_an_ssa_alone(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, gateway_app, meta: dict[str, Any]  # type: ignore[no-untyped-def]
) -> None:
    # FAPI 2.0 metadata a client relies on.
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True

    app = await _onboard(sandbox, auth_method="private_key_jwt")
    registered = await _register(client, app, meta)
    client_id = registered["client_id"]
    dpop = DPoP()

    # authlib's private_key_jwt, with the audience FAPI 2.0 requires: the issuer identifier.
    oauth = AsyncOAuth2Client(
        client_id=client_id, client_secret=app["private_jwk"],
        token_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg=app["private_jwk"]["alg"]),
        revocation_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg=app["private_jwk"]["alg"]),
        transport=httpx.ASGITransport(app=gateway_app), base_url=ISSUER,
    )
    async with oauth:
        cc = await oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="accounts",
                                     headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})
        assert cc["token_type"] == "DPoP"
        consent_id = await _create_consent(client, cc["access_token"], dpop)

        verifier = uuid.uuid4().hex + uuid.uuid4().hex
        state, nonce = uuid.uuid4().hex, uuid.uuid4().hex
        par_url, headers, form = client_authenticated_form(oauth, meta["pushed_authorization_request_endpoint"], {
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
            "scope": "openid accounts", "state": state, "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
            "claims": intent_claims(consent_id),
        })
        headers["DPoP"] = dpop.proof("POST", par_url)
        pushed = await oauth.request("POST", par_url, content=form, headers=headers, withhold_token=True)
        assert pushed.status_code == 201, pushed.text
        request_uri = pushed.json()["request_uri"]

        # The customer approves (sandbox headless route: the same redirect a browser gets).
        approved = await client.post("/sandbox/headless-authorize", data={
            "client_id": client_id, "request_uri": request_uri, "username": PSU[0], "password": PSU[1],
            "decision": "approve",
        })
        assert approved.status_code == 200, approved.text
        redirect = approved.json()["redirect_to"]
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect).query))
        assert query["state"] == state and query["iss"] == meta["issuer"]  # RFC 9207

        tokens = await oauth.fetch_token(
            meta["token_endpoint"], grant_type="authorization_code", code=query["code"],
            redirect_uri=REDIRECT_URI, code_verifier=verifier,
            headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])},
        )
        assert tokens["token_type"] == "DPoP" and tokens["refresh_token"]

        # The ID token verifies against the published JWKS and names the consent.
        jwks = KeySet.import_key_set((await client.get(meta["jwks_uri"])).json())
        id_token = jrfc_jwt.decode(tokens["id_token"], jwks, algorithms=["PS256"])
        assert id_token.claims["aud"] == client_id and id_token.claims["iss"] == meta["issuer"]
        assert id_token.claims["nonce"] == nonce
        assert id_token.claims["openbanking_intent_id"] == consent_id

        refreshed = await oauth.refresh_token(meta["token_endpoint"], refresh_token=tokens["refresh_token"],
                                              headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})
        assert refreshed["access_token"] != tokens["access_token"]

        active = await oauth.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"])
        assert active.status_code == 200
        assert active.json()["active"] is True and active.json()["cnf"] == {"jkt": dpop.jkt}

        revoked = await oauth.revoke_token(meta["revocation_endpoint"], token=tokens["refresh_token"],
                                           token_type_hint="refresh_token")
        assert revoked.status_code == 200
        after = await oauth.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"])
        assert after.json()["active"] is False


async def test_tls_client_auth_and_certificate_bound_tokens_from_discovery_and_an_ssa_alone(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, gateway_app, meta: dict[str, Any]  # type: ignore[no-untyped-def]
) -> None:
    app = await _onboard(sandbox, auth_method="tls_client_auth")
    registered = await _register(client, app, meta)
    client_id = registered["client_id"]
    cert = {"x-ssl-client-cert": _pem_header(app["client_certificate_pem"])}

    # RFC 8705 section 2.1: the client is authenticated by its certificate; only client_id is in the body.
    oauth = AsyncOAuth2Client(client_id=client_id, token_endpoint_auth_method="none",
                              revocation_endpoint_auth_method="none",
                              transport=httpx.ASGITransport(app=gateway_app), base_url=ISSUER, headers=cert)
    async with oauth:
        cc = await oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="accounts")
        assert cc["token_type"] == "Bearer"
        consent_url = f"{ISSUER}/open-banking/v3.1/aisp/account-access-consents"
        created = await client.post(consent_url, headers={"Authorization": f"Bearer {cc['access_token']}", **cert},
                                    json={"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}})
        assert created.status_code == 201, created.text
        consent_id = created.json()["Data"]["ConsentId"]

        verifier = uuid.uuid4().hex * 2
        par_url, headers, form = client_authenticated_form(oauth, meta["pushed_authorization_request_endpoint"], {
            # authlib's "none" method adds client_id itself (RFC 8705: the certificate authenticates).
            "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid accounts",
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
            "claims": intent_claims(consent_id),
        })
        pushed = await oauth.request("POST", par_url, content=form, headers=headers, withhold_token=True)
        assert pushed.status_code == 201, pushed.text
        approved = await client.post("/sandbox/headless-authorize", data={
            "client_id": client_id, "request_uri": pushed.json()["request_uri"], "username": PSU[0],
            "password": PSU[1], "decision": "approve",
        })
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(approved.json()["redirect_to"]).query))["code"]
        tokens = await oauth.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                         redirect_uri=REDIRECT_URI, code_verifier=verifier)
        assert tokens["token_type"] == "Bearer"
        introspected = (await oauth.introspect_token(meta["introspection_endpoint"], token=tokens["access_token"])).json()
        assert introspected["active"] is True and "x5t#S256" in introspected["cnf"]

        refreshed = await oauth.refresh_token(meta["token_endpoint"], refresh_token=tokens["refresh_token"])
        assert refreshed["token_type"] == "Bearer"
        await oauth.revoke_token(meta["revocation_endpoint"], token=refreshed["access_token"])
        gone = (await oauth.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"])).json()
        assert gone["active"] is False
