"""Discovery (RFC 8414 section 3, OpenID Connect Discovery 1.0 section 4) and the JWK Set (RFC 7517)."""

from __future__ import annotations

import httpx
import pytest

from gateway.security import jose
from gateway.security.keys import KeyStore
from tests.conftest import ISSUER
from tests.integration.oauth._dcr_helpers import jwks_host  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import sandbox_app  # noqa: F401  (fixture)

WELL_KNOWN = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


@pytest.mark.parametrize("path", WELL_KNOWN)
async def test_metadata_issuer_is_the_configured_issuer(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "max-age" in response.headers["cache-control"]
    # RFC 8414 section 3.3: the issuer in the document is identical to the one the client asked.
    assert response.json()["issuer"] == ISSUER


async def test_both_discovery_documents_are_the_same(client: httpx.AsyncClient) -> None:
    oidc, oauth = [(await client.get(p)).json() for p in WELL_KNOWN]
    assert oidc == oauth


async def test_metadata_names_every_endpoint_under_the_issuer(client: httpx.AsyncClient) -> None:
    meta = (await client.get(WELL_KNOWN[0])).json()
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert meta["pushed_authorization_request_endpoint"] == f"{ISSUER}/par"
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert meta["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert meta["registration_endpoint"] == f"{ISSUER}/register"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    # RFC 8705 section 5: mTLS is terminated upstream, so the aliases are the same URLs.
    aliases = meta["mtls_endpoint_aliases"]
    for name in ("token_endpoint", "pushed_authorization_request_endpoint", "introspection_endpoint",
                 "revocation_endpoint", "registration_endpoint"):
        assert aliases[name] == meta[name]


async def test_metadata_advertises_fapi2_profile(client: httpx.AsyncClient) -> None:
    meta = (await client.get(WELL_KNOWN[0])).json()
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["response_types_supported"] == ["code"]
    assert meta["response_modes_supported"] == ["query"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        assert meta[f"{name}_auth_methods_supported"] == ["private_key_jwt", "tls_client_auth"]
    # The shipped rulebook's lists (policies/fapi.yaml algorithms): exactly what the gateway accepts.
    expected = {"token_endpoint_auth_signing_alg_values_supported": ["PS256", "ES256"],
                "introspection_endpoint_auth_signing_alg_values_supported": ["PS256", "ES256"],
                "revocation_endpoint_auth_signing_alg_values_supported": ["PS256", "ES256"],
                "dpop_signing_alg_values_supported": ["PS256", "ES256", "EdDSA"],
                "request_object_signing_alg_values_supported": ["PS256", "ES256"]}
    for name, algs in expected.items():
        assert meta[name] == algs, name
        assert "RS256" not in meta[name] and "none" not in meta[name]
    assert meta["id_token_signing_alg_values_supported"] == ["PS256"]
    assert meta["tls_client_certificate_bound_access_tokens"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True


async def test_metadata_advertises_open_banking_vocabulary(client: httpx.AsyncClient) -> None:
    meta = (await client.get(WELL_KNOWN[0])).json()
    assert meta["scopes_supported"] == ["openid", "accounts", "payments", "fundsconfirmations"]
    assert {"openbanking_intent_id", "acr"} <= set(meta["claims_supported"])
    assert meta["acr_values_supported"] == ["urn:openbanking:psd2:sca", "urn:openbanking:psd2:ca"]
    assert meta["authorization_details_types_supported"] == ["openbanking_intent"]
    assert meta["subject_types_supported"] == ["public"]
    assert meta["claims_parameter_supported"] is True
    assert meta["request_parameter_supported"] is True
    assert meta["request_uri_parameter_supported"] is True
    assert meta["require_request_uri_registration"] is False


async def test_jwks_publishes_the_signing_keys_without_private_members(
    client: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    response = await client.get("/jwks")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert [k["kid"] for k in keys] == [k["kid"] for k in gateway_keys.keys]
    assert not any(jose.is_private(k) for k in keys)


async def test_an_id_token_signed_by_the_gateway_verifies_with_the_published_jwks(
    client: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    token = jose.sign({"iss": ISSUER, "sub": "psu"}, key=gateway_keys.current)
    keys = (await client.get("/jwks")).json()["keys"]
    assert jose.verify_with_jwks(token, jwks=keys)["sub"] == "psu"


async def test_jwks_keeps_old_keys_after_rotation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    from gateway.app import create_app
    from gateway.settings import Settings

    settings = Settings(var_dir=tmp_path, issuer=ISSUER)
    first = KeyStore.rotate(settings.keys_dir, sandbox=True)
    rotated = KeyStore.rotate(settings.keys_dir, sandbox=True)
    app = create_app(settings, keys=rotated, create_schema=True)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
            kids = [k["kid"] for k in (await c.get("/jwks")).json()["keys"]]
    # Each rotation adds one key of each family (PS256 signing, ES256 bank context); none is dropped.
    assert kids == [first.current["kid"], first.context_key["kid"], rotated.current["kid"],
                    rotated.context_key["kid"]]


async def test_metadata_is_read_only(client: httpx.AsyncClient) -> None:
    response = await client.post(WELL_KNOWN[0])
    assert response.status_code == 405
