"""Dynamic Client Registration: RFC 7591, RFC 7592 and OBIE DCR v3.3, with FAPI 2.0 client rules.

Every rejection asserts the status and the RFC 7591 section 3.2.2 ``error`` code.
"""

# Fixtures are imported from the helper module, and pytest passes them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from gateway.security import jose
from gateway.store.db import Database
from gateway.store.oauth_tables import Client
from tests.conftest import ISSUER
from tests.helpers.oauth import FapiClient
from tests.helpers.ssa import DirectoryKeys
from tests.helpers.ssa import make_tpp_key
from tests.integration.oauth._dcr_helpers import OTHER_REDIRECT_URI
from tests.integration.oauth._dcr_helpers import REDIRECT_URI
from tests.integration.oauth._dcr_helpers import JwksHost
from tests.integration.oauth._dcr_helpers import Tpp
from tests.integration.oauth._dcr_helpers import db  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import directory  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import insert_access_token
from tests.integration.oauth._dcr_helpers import jwks_host  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import make_tpp
from tests.integration.oauth._dcr_helpers import register_json
from tests.integration.oauth._dcr_helpers import register_signed
from tests.integration.oauth._dcr_helpers import sandbox_app  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import token_row


@pytest.fixture
def tpp(directory: DirectoryKeys) -> Tpp:
    return make_tpp(directory, roles=["AISP", "PISP"])


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.headers["cache-control"] == "no-store"


async def stored_client(db: Database, client_id: str) -> Client | None:
    async with db.session() as session:
        return await session.get(Client, client_id)


async def registered(client: httpx.AsyncClient, tpp: Tpp, **claims: Any) -> dict[str, Any]:
    response = await register_signed(client, tpp.request_jwt(**claims))
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------- successful registration


async def test_signed_registration_request_creates_a_client(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    response = await register_signed(client, tpp.request_jwt())
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"]
    assert abs(body["client_id_issued_at"] - time.time()) < 30
    assert body["redirect_uris"] == [REDIRECT_URI]
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["token_endpoint_auth_signing_alg"] == "ES256"
    assert body["scope"] == "openid accounts"
    assert body["software_id"] == tpp.software_id
    # OBIE DCR v3.3: the SSA's claims come back flattened, and the statement itself.
    assert body["software_roles"] == ["AISP", "PISP"]
    assert body["org_id"] == "0015800001041REAAY"
    assert body["software_statement"].count(".") == 2
    assert body["registration_client_uri"] == f"{ISSUER}/register/{body['client_id']}"
    assert "client_secret" not in body
    row = await stored_client(db, body["client_id"])
    assert row is not None and row.status == "active"
    assert row.software_id == tpp.software_id
    assert row.jwks == tpp.public_jwks and row.jwks_uri is None
    assert row.registration == body


async def test_json_registration_with_software_statement_creates_a_client(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    response = await register_json(client, {**tpp.metadata(), "software_statement": tpp.ssa()})
    assert response.status_code == 201, response.text
    row = await stored_client(db, response.json()["client_id"])
    assert row is not None and row.token_endpoint_auth_method == "private_key_jwt"


async def test_signed_request_sent_as_a_json_string_is_accepted(client: httpx.AsyncClient, tpp: Tpp) -> None:
    # The OBIE OpenAPI models the registration body as an application/json string.
    response = await client.post("/register", json=tpp.request_jwt())
    assert response.status_code == 201, response.text


async def test_same_software_may_register_twice_with_new_client_ids(client: httpx.AsyncClient, tpp: Tpp) -> None:
    first = await registered(client, tpp)
    second = await registered(client, tpp)
    assert first["client_id"] != second["client_id"]
    assert first["software_id"] == second["software_id"]


async def test_omitted_grant_types_and_scope_take_the_defaults(client: httpx.AsyncClient, tpp: Tpp) -> None:
    body = tpp.metadata(grant_types=None, scope=None, response_types=None)
    response = await register_json(client, {**body, "software_statement": tpp.ssa()})
    assert response.status_code == 201, response.text
    registration = response.json()
    assert set(registration["grant_types"]) == {"client_credentials", "authorization_code", "refresh_token"}
    assert registration["response_types"] == ["code"]
    assert registration["scope"] == "openid accounts payments"


async def test_client_credentials_only_client_has_no_response_types(client: httpx.AsyncClient, tpp: Tpp) -> None:
    registration = await registered(client, tpp, grant_types=["client_credentials"], response_types=None)
    assert registration["grant_types"] == ["client_credentials"]
    assert registration["response_types"] == []


async def test_tls_client_auth_registration_keeps_the_subject_dn(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    dn = "CN=app1,OU=0015800001041REAAY,O=Test TPP Ltd,C=GB"
    registration = await registered(
        client,
        tpp,
        token_endpoint_auth_method="tls_client_auth",
        token_endpoint_auth_signing_alg=None,
        tls_client_auth_subject_dn=dn,
    )
    assert registration["tls_client_auth_subject_dn"] == dn
    assert "token_endpoint_auth_signing_alg" not in registration
    row = await stored_client(db, registration["client_id"])
    assert row is not None and row.tls_client_auth_subject_dn == dn


async def test_keys_published_at_software_jwks_endpoint_verify_the_request(
    client: httpx.AsyncClient, db: Database, tpp: Tpp, jwks_host: JwksHost
) -> None:
    endpoint = jwks_host.publish(f"{tpp.software_id}.jwks", tpp.public_jwks)
    ssa = tpp.ssa(jwks=None, jwks_endpoint=endpoint)
    registration = await registered(client, tpp, ssa=ssa)
    assert jwks_host.hits == 1
    row = await stored_client(db, registration["client_id"])
    assert row is not None and row.jwks_uri == endpoint and row.jwks == {}


async def test_unknown_metadata_is_ignored(client: httpx.AsyncClient, tpp: Tpp) -> None:
    registration = await registered(client, tpp, favourite_colour="blue")
    assert "favourite_colour" not in registration


# --------------------------------------------------------------------------- the software statement


async def test_unsigned_software_statement_is_invalid(client: httpx.AsyncClient, tpp: Tpp) -> None:
    good = tpp.ssa()
    header = jose.b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": tpp.directory.kid}).encode())
    response = await register_signed(client, tpp.request_jwt(ssa=f"{header}.{good.split('.')[1]}."))
    assert_error(response, 400, "invalid_software_statement")


async def test_software_statement_signed_by_unknown_key_is_unapproved(client: httpx.AsyncClient, tpp: Tpp) -> None:
    response = await register_signed(client, tpp.request_jwt(ssa=tpp.ssa(key=make_tpp_key())))
    assert_error(response, 400, "unapproved_software_statement")


async def test_expired_software_statement_is_invalid(client: httpx.AsyncClient, tpp: Tpp) -> None:
    ssa = tpp.ssa(iat=int(time.time()) - 3600, lifetime=600)
    assert_error(await register_signed(client, tpp.request_jwt(ssa=ssa)), 400, "invalid_software_statement")


async def test_software_statement_of_revoked_organisation_is_unapproved(client: httpx.AsyncClient, tpp: Tpp) -> None:
    ssa = tpp.ssa(org_status="Revoked")
    assert_error(await register_signed(client, tpp.request_jwt(ssa=ssa)), 400, "unapproved_software_statement")


async def test_json_registration_without_software_statement_is_invalid(client: httpx.AsyncClient, tpp: Tpp) -> None:
    assert_error(await register_json(client, tpp.metadata()), 400, "invalid_software_statement")


async def test_unreachable_software_jwks_endpoint_is_invalid(
    client: httpx.AsyncClient, tpp: Tpp, jwks_host: JwksHost
) -> None:
    ssa = tpp.ssa(jwks=None, jwks_endpoint="https://tpp.example/missing.jwks")
    assert_error(await register_signed(client, tpp.request_jwt(ssa=ssa)), 400, "invalid_software_statement")


async def test_signed_request_needs_keys_named_by_the_statement(client: httpx.AsyncClient, tpp: Tpp) -> None:
    ssa = tpp.ssa(jwks=None)
    assert_error(await register_signed(client, tpp.request_jwt(ssa=ssa)), 400, "invalid_software_statement")


# --------------------------------------------------------------------------- the signed registration request


async def test_request_jwt_with_alg_none_is_refused(client: httpx.AsyncClient, tpp: Tpp) -> None:
    signed = tpp.request_jwt()
    header = jose.b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    response = await register_signed(client, f"{header}.{signed.split('.')[1]}.")
    assert_error(response, 400, "invalid_client_metadata")


async def test_request_jwt_signed_rs256_is_refused(client: httpx.AsyncClient, directory: DirectoryKeys) -> None:
    rsa_tpp = make_tpp(directory, key=jose.generate_key(alg="PS256"))
    response = await register_signed(client, rsa_tpp.request_jwt(alg="RS256"))
    assert_error(response, 400, "invalid_client_metadata")


async def test_request_jwt_not_signed_by_the_statements_keys_is_refused(client: httpx.AsyncClient, tpp: Tpp) -> None:
    impostor = {**make_tpp_key(), "kid": tpp.key["kid"]}
    assert_error(await register_signed(client, tpp.request_jwt(key=impostor)), 400, "invalid_client_metadata")


async def test_request_jwt_bringing_its_own_key_is_refused(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt(headers={"jwk": jose.public_jwk(tpp.key)})
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize("iss", ["someone-else", "", "a" * 40])
async def test_request_jwt_iss_must_be_the_software_id(client: httpx.AsyncClient, tpp: Tpp, iss: str) -> None:
    assert_error(await register_signed(client, tpp.request_jwt(iss=iss)), 400, "invalid_client_metadata")


async def test_request_jwt_aud_must_be_the_issuer(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt(aud="https://other-bank.example")
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


async def test_expired_request_jwt_is_refused(client: httpx.AsyncClient, tpp: Tpp) -> None:
    now = int(time.time())
    token = tpp.request_jwt(iat=now - 600, exp=now - 1)
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize("claim", ["exp", "aud", "jti", "iat"])
async def test_request_jwt_without_required_claim_is_refused(
    client: httpx.AsyncClient, tpp: Tpp, claim: str
) -> None:
    assert_error(await register_signed(client, tpp.request_jwt(omit=(claim,))), 400, "invalid_client_metadata")


async def test_replayed_request_jwt_is_refused(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt()
    assert (await register_signed(client, token)).status_code == 201
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


# --------------------------------------------------------------------------- client metadata rules


async def test_redirect_uri_not_in_software_statement_is_refused(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt(redirect_uris=["https://evil.example/cb"])
    assert_error(await register_signed(client, token), 400, "invalid_redirect_uri")


async def test_plain_http_redirect_uri_not_in_software_statement_is_refused(
    client: httpx.AsyncClient, tpp: Tpp
) -> None:
    token = tpp.request_jwt(redirect_uris=[REDIRECT_URI, "http://127.0.0.1:9999/cb"])
    assert_error(await register_signed(client, token), 400, "invalid_redirect_uri")


@pytest.mark.parametrize("value", [None, [], "https://tpp.example/callback"])
async def test_missing_or_malformed_redirect_uris_are_refused(
    client: httpx.AsyncClient, tpp: Tpp, value: object
) -> None:
    body = {**tpp.metadata(redirect_uris=None), "software_statement": tpp.ssa()}
    if value is not None:
        body["redirect_uris"] = value
    assert_error(await register_json(client, body), 400, "invalid_redirect_uri")


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "client_secret_jwt", "none", None])
async def test_only_fapi_client_authentication_methods_are_accepted(
    client: httpx.AsyncClient, tpp: Tpp, method: str | None
) -> None:
    token = tpp.request_jwt(omit=("token_endpoint_auth_method",) if method is None else (),
                            **({"token_endpoint_auth_method": method} if method else {}))
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize("alg", ["RS256", "HS256", "none"])
async def test_private_key_jwt_signing_alg_must_be_fapi(client: httpx.AsyncClient, tpp: Tpp, alg: str) -> None:
    token = tpp.request_jwt(token_endpoint_auth_signing_alg=alg)
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


async def test_private_key_jwt_needs_a_signing_alg(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt(omit=("token_endpoint_auth_signing_alg",))
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize("dn", [None, "not a distinguished name"])
async def test_tls_client_auth_needs_a_subject_dn(client: httpx.AsyncClient, tpp: Tpp, dn: str | None) -> None:
    extra = {"tls_client_auth_subject_dn": dn} if dn else {}
    token = tpp.request_jwt(token_endpoint_auth_method="tls_client_auth", **extra)
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize(
    "grant_types",
    [["implicit"], ["password"], ["urn:openid:params:grant-type:ciba"], [], "client_credentials", ["refresh_token"]],
)
async def test_unsupported_grant_types_are_refused(client: httpx.AsyncClient, tpp: Tpp, grant_types: object) -> None:
    token = tpp.request_jwt(grant_types=grant_types, response_types=None)
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize("response_types", [["code id_token"], ["token"], ["code", "code id_token"]])
async def test_only_the_code_response_type_is_accepted(
    client: httpx.AsyncClient, tpp: Tpp, response_types: list[str]
) -> None:
    token = tpp.request_jwt(response_types=response_types)
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


async def test_code_response_type_needs_the_authorization_code_grant(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt(grant_types=["client_credentials"], response_types=["code"])
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


@pytest.mark.parametrize("scope", ["openid fundsconfirmations", "openid accounts admin", "", "x" * 300])
async def test_scope_beyond_the_software_roles_is_refused(client: httpx.AsyncClient, tpp: Tpp, scope: str) -> None:
    assert_error(await register_signed(client, tpp.request_jwt(scope=scope)), 400, "invalid_client_metadata")


@pytest.mark.parametrize("claim", ["id_token_signed_response_alg", "request_object_signing_alg"])
async def test_rs256_for_id_tokens_or_request_objects_is_refused(
    client: httpx.AsyncClient, tpp: Tpp, claim: str
) -> None:
    assert_error(await register_signed(client, tpp.request_jwt(**{claim: "RS256"})), 400, "invalid_client_metadata")


async def test_software_id_must_match_the_statement(client: httpx.AsyncClient, tpp: Tpp) -> None:
    token = tpp.request_jwt(software_id="SomeOtherSoftware")
    assert_error(await register_signed(client, token), 400, "invalid_client_metadata")


async def test_json_registration_cannot_bring_other_keys_than_the_statements(
    client: httpx.AsyncClient, tpp: Tpp
) -> None:
    stranger = jose.public_jwks([make_tpp_key()])
    body = {**tpp.metadata(), "jwks": stranger, "software_statement": tpp.ssa()}
    assert_error(await register_json(client, body), 400, "invalid_client_metadata")


async def test_json_registration_cannot_point_jwks_uri_elsewhere(client: httpx.AsyncClient, tpp: Tpp) -> None:
    body = {**tpp.metadata(), "jwks_uri": "https://evil.example/jwks", "software_statement": tpp.ssa()}
    assert_error(await register_json(client, body), 400, "invalid_client_metadata")


async def test_private_key_jwt_client_needs_keys(client: httpx.AsyncClient, tpp: Tpp) -> None:
    body = {**tpp.metadata(), "software_statement": tpp.ssa(jwks=None)}
    assert_error(await register_json(client, body), 400, "invalid_client_metadata")


# --------------------------------------------------------------------------- request format


async def test_unsupported_content_type_is_invalid_request(client: httpx.AsyncClient, tpp: Tpp) -> None:
    # Decision: 400 invalid_request, since the OBIE DCR OpenAPI declares only 201 and 400 for POST /register.
    response = await client.post(
        "/register", content=tpp.request_jwt(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_error(response, 400, "invalid_request")


async def test_malformed_json_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/register", content=b'{"redirect_uris": [', headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request")


async def test_json_array_is_invalid_request(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/register", json=[1, 2]), 400, "invalid_request")


async def test_garbage_jose_body_is_invalid_client_metadata(client: httpx.AsyncClient) -> None:
    assert_error(await register_signed(client, "this.is-not.a-jwt"), 400, "invalid_client_metadata")


async def test_oversized_request_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/register", content=b"x" * 70_000, headers={"Content-Type": "application/jose"})
    assert_error(response, 400, "invalid_request")


# --------------------------------------------------------------------------- RFC 7592 management


async def test_client_reads_its_own_registration(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    registration = await registered(client, tpp)
    path = f"/register/{registration['client_id']}"
    token = await insert_access_token(db, client_id=registration["client_id"])
    response = await client.get(path, headers=token.headers("GET", path))
    assert response.status_code == 200, response.text
    assert response.json() == registration
    assert response.headers["cache-control"] == "no-store"


async def test_reading_without_a_token_is_unauthorised(client: httpx.AsyncClient, tpp: Tpp) -> None:
    registration = await registered(client, tpp)
    response = await client.get(f"/register/{registration['client_id']}")
    assert_error(response, 401, "invalid_token")
    assert "WWW-Authenticate" in response.headers


async def test_reading_with_another_clients_token_is_unauthorised(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    mine = await registered(client, tpp)
    theirs = await registered(client, tpp)
    path = f"/register/{mine['client_id']}"
    token = await insert_access_token(db, client_id=theirs["client_id"])
    response = await client.get(path, headers=token.headers("GET", path))
    assert_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("DPoP ")


async def test_unknown_client_id_is_unauthorised_and_revokes_the_token(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    registration = await registered(client, tpp)
    token = await insert_access_token(db, client_id=registration["client_id"])
    path = "/register/00000000-0000-4000-8000-000000000000"
    assert_error(await client.get(path, headers=token.headers("GET", path)), 401, "invalid_token")
    row = await token_row(db, token.value)
    assert row is not None and row.revoked_at is not None  # OBIE DCR v3.3: unknown ClientId revokes the token
    own = f"/register/{registration['client_id']}"
    assert_error(await client.get(own, headers=token.headers("GET", own)), 401, "invalid_token")


async def test_a_token_from_a_customer_grant_cannot_manage_the_registration(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    registration = await registered(client, tpp)
    path = f"/register/{registration['client_id']}"
    token = await insert_access_token(db, client_id=registration["client_id"], grant_type="authorization_code")
    assert_error(await client.get(path, headers=token.headers("GET", path)), 401, "invalid_token")


async def test_client_updates_its_registration_and_keeps_its_client_id(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    registration = await registered(client, tpp)
    client_id = registration["client_id"]
    path = f"/register/{client_id}"
    token = await insert_access_token(db, client_id=client_id)
    update = tpp.request_jwt(redirect_uris=[OTHER_REDIRECT_URI], scope="openid payments")
    response = await client.put(
        path, content=update, headers={"Content-Type": "application/jose", **token.headers("PUT", path)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] == client_id
    assert body["client_id_issued_at"] == registration["client_id_issued_at"]
    assert body["redirect_uris"] == [OTHER_REDIRECT_URI]
    row = await stored_client(db, client_id)
    assert row is not None and row.redirect_uris == [OTHER_REDIRECT_URI] and row.scope == "openid payments"
    # OBIE DCR v3.3: an update does not invalidate tokens already issued.
    again = await client.get(path, headers=token.headers("GET", path))
    assert again.status_code == 200 and again.json()["scope"] == "openid payments"


async def test_update_is_validated_like_a_registration(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    registration = await registered(client, tpp)
    path = f"/register/{registration['client_id']}"
    token = await insert_access_token(db, client_id=registration["client_id"])
    update = tpp.request_jwt(token_endpoint_auth_method="client_secret_basic")
    response = await client.put(
        path, content=update, headers={"Content-Type": "application/jose", **token.headers("PUT", path)}
    )
    assert_error(response, 400, "invalid_client_metadata")
    row = await stored_client(db, registration["client_id"])
    assert row is not None and row.token_endpoint_auth_method == "private_key_jwt"


async def test_update_cannot_move_to_another_software(
    client: httpx.AsyncClient, db: Database, tpp: Tpp, directory: DirectoryKeys
) -> None:
    registration = await registered(client, tpp)
    path = f"/register/{registration['client_id']}"
    token = await insert_access_token(db, client_id=registration["client_id"])
    other = make_tpp(directory, key=tpp.key)
    response = await client.put(
        path, content=other.request_jwt(), headers={"Content-Type": "application/jose", **token.headers("PUT", path)}
    )
    assert_error(response, 400, "invalid_client_metadata")


async def test_update_with_another_clients_token_is_unauthorised(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    mine = await registered(client, tpp)
    theirs = await registered(client, tpp)
    path = f"/register/{mine['client_id']}"
    token = await insert_access_token(db, client_id=theirs["client_id"])
    response = await client.put(
        path,
        content=tpp.request_jwt(redirect_uris=[OTHER_REDIRECT_URI]),
        headers={"Content-Type": "application/jose", **token.headers("PUT", path)},
    )
    assert_error(response, 401, "invalid_token")
    row = await stored_client(db, mine["client_id"])
    assert row is not None and row.redirect_uris == [REDIRECT_URI]


async def test_delete_removes_the_client_and_revokes_its_tokens(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    registration = await registered(client, tpp)
    client_id = registration["client_id"]
    path = f"/register/{client_id}"
    token = await insert_access_token(db, client_id=client_id)
    other_token = await insert_access_token(db, client_id=client_id, grant_type="authorization_code")
    response = await client.delete(path, headers=token.headers("DELETE", path))
    assert response.status_code == 204
    row = await stored_client(db, client_id)
    assert row is not None and row.status == "deleted"
    for value in (token.value, other_token.value):
        stored = await token_row(db, value)
        assert stored is not None and stored.revoked_at is not None
    # The token of a deleted client is refused from then on.
    assert_error(await client.get(path, headers=token.headers("GET", path)), 401, "invalid_token")
    fresh = await insert_access_token(db, client_id=client_id)
    assert_error(await client.get(path, headers=fresh.headers("GET", path)), 401, "invalid_token")


async def test_delete_with_another_clients_token_is_unauthorised(
    client: httpx.AsyncClient, db: Database, tpp: Tpp
) -> None:
    mine = await registered(client, tpp)
    theirs = await registered(client, tpp)
    path = f"/register/{mine['client_id']}"
    token = await insert_access_token(db, client_id=theirs["client_id"])
    assert_error(await client.delete(path, headers=token.headers("DELETE", path)), 401, "invalid_token")
    row = await stored_client(db, mine["client_id"])
    assert row is not None and row.status == "active"


# --------------------------------------------------------------------------- end to end with the token endpoint


async def client_credentials_token(client: httpx.AsyncClient, fapi: FapiClient) -> str:
    response = await fapi.token(client, {"grant_type": "client_credentials", "scope": "accounts"})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    return str(response.json()["access_token"])


def dpop_headers(fapi: FapiClient, method: str, path: str, access_token: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {access_token}", "DPoP": fapi.dpop(method, path, access_token=access_token)}


async def test_registered_client_gets_a_token_and_reads_its_registration(client: httpx.AsyncClient, tpp: Tpp) -> None:
    registration = await registered(client, tpp)
    fapi = FapiClient(client_id=registration["client_id"], key=tpp.key)
    access_token = await client_credentials_token(client, fapi)
    path = f"/register/{fapi.client_id}"
    response = await client.get(path, headers=dpop_headers(fapi, "GET", path, access_token))
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == fapi.client_id


async def test_client_registered_with_jwks_uri_authenticates_with_the_published_keys(
    client: httpx.AsyncClient, tpp: Tpp, jwks_host: JwksHost
) -> None:
    endpoint = jwks_host.publish(f"{tpp.software_id}.jwks", tpp.public_jwks)
    registration = await registered(client, tpp, ssa=tpp.ssa(jwks=None, jwks_endpoint=endpoint))
    fapi = FapiClient(client_id=registration["client_id"], key=tpp.key)
    await client_credentials_token(client, fapi)


async def test_deleted_client_can_no_longer_get_tokens(client: httpx.AsyncClient, tpp: Tpp) -> None:
    registration = await registered(client, tpp)
    fapi = FapiClient(client_id=registration["client_id"], key=tpp.key)
    access_token = await client_credentials_token(client, fapi)
    path = f"/register/{fapi.client_id}"
    deleted = await client.delete(path, headers=dpop_headers(fapi, "DELETE", path, access_token))
    assert deleted.status_code == 204
    response = await fapi.token(client, {"grant_type": "client_credentials", "scope": "accounts"})
    assert_error(response, 401, "invalid_client")


@pytest.mark.parametrize("field", ["logo_uri", "tos_uri", "policy_uri", "client_uri"])
@pytest.mark.parametrize("uri", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "http://tpp.example/terms"])
async def test_display_links_must_be_https(client: httpx.AsyncClient, tpp: Tpp, field: str, uri: str) -> None:
    response = await register_signed(client, tpp.request_jwt(**{field: uri}))
    assert_error(response, 400, "invalid_client_metadata")
    assert field in response.json()["error_description"]


async def test_https_display_links_are_accepted(client: httpx.AsyncClient, tpp: Tpp) -> None:
    await registered(client, tpp, logo_uri="https://tpp.example/logo.png", tos_uri="https://tpp.example/terms")
