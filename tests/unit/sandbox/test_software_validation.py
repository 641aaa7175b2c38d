"""Partner-app input rules: each refusal names the field and the rule (400 ``invalid_request``)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.directory import generate_signing_key
from sandbox.directory import public_jwk
from sandbox.errors import InvalidRequest
from sandbox.software import parse_app_request
from sandbox.software import parse_jwks_text

GOOD: dict[str, Any] = {"name": "Budget app", "redirect_uris": ["https://tpp.example/cb"], "roles": ["AISP"]}


@pytest.fixture(scope="module")
def ec_key() -> dict[str, Any]:
    return generate_signing_key(alg="ES256")


def refused(**changes: Any) -> InvalidRequest:
    data = {**GOOD, **changes}
    with pytest.raises(InvalidRequest) as info:
        parse_app_request(data)
    assert info.value.status_code == 400
    assert info.value.code == "invalid_request"
    return info.value


def test_good_request_is_accepted_with_private_key_jwt_by_default() -> None:
    request = parse_app_request(GOOD)
    assert request.token_endpoint_auth_method == "private_key_jwt"
    assert request.redirect_uris == ("https://tpp.example/cb",)
    assert request.jwks is None


def test_http_redirect_uri_for_local_development_is_accepted() -> None:
    assert parse_app_request({**GOOD, "redirect_uris": ["http://localhost:3000/cb"]}).redirect_uris


def test_name_is_required() -> None:
    error = refused(name="  ")
    assert (error.field, error.rule) == ("name", "required")


@pytest.mark.parametrize(
    "uri", ["/relative/cb", "ftp://tpp.example/cb", "https:///no-host", "tpp.example/cb", "javascript:alert(1)"]
)
def test_redirect_uri_must_be_absolute_http_url(uri: str) -> None:
    error = refused(redirect_uris=[uri])
    assert (error.field, error.rule) == ("redirect_uris", "absolute_http_url")


def test_redirect_uri_must_not_have_a_fragment() -> None:
    error = refused(redirect_uris=["https://tpp.example/cb#frag"])
    assert (error.field, error.rule) == ("redirect_uris", "no_fragment")


def test_redirect_uris_must_not_be_empty() -> None:
    error = refused(redirect_uris=[])
    assert (error.field, error.rule) == ("redirect_uris", "required")


def test_redirect_uris_must_be_a_list() -> None:
    error = refused(redirect_uris="https://tpp.example/cb")
    assert (error.field, error.rule) == ("redirect_uris", "type:list[string]")


def test_unknown_role_is_refused() -> None:
    error = refused(roles=["ASPSP"])
    assert (error.field, error.rule) == ("roles", "enum:AISP,PISP,CBPII")


def test_non_fapi_client_authentication_is_refused() -> None:
    error = refused(token_endpoint_auth_method="client_secret_basic")
    assert error.field == "token_endpoint_auth_method"


def test_pasted_private_key_is_refused(ec_key: dict[str, Any]) -> None:
    error = refused(jwks={"keys": [ec_key]})
    assert (error.field, error.rule) == ("jwks", "public_only")


def test_pasted_key_needs_a_kid(ec_key: dict[str, Any]) -> None:
    key = public_jwk(ec_key)
    del key["kid"]
    error = refused(jwks={"keys": [key]})
    assert (error.field, error.rule) == ("jwks", "kid_required")


def test_small_rsa_key_is_refused() -> None:
    from jwcrypto import jwk

    small = jwk.JWK.generate(kty="RSA", size=1024).export_public(as_dict=True)
    small["kid"] = "small"
    error = refused(jwks={"keys": [small]})
    assert (error.field, error.rule) == ("jwks", "rsa_min_2048")


def test_non_fapi_curve_is_refused() -> None:
    from jwcrypto import jwk

    key = jwk.JWK.generate(kty="EC", crv="P-384").export_public(as_dict=True)
    key["kid"] = "p384"
    error = refused(jwks={"keys": [key]})
    assert (error.field, error.rule) == ("jwks", "kty")


def test_jwks_without_a_signing_key_is_refused(ec_key: dict[str, Any]) -> None:
    error = refused(jwks={"keys": [{**public_jwk(ec_key), "use": "enc"}]})
    assert (error.field, error.rule) == ("jwks", "signing_key")


def test_public_jwks_is_accepted(ec_key: dict[str, Any]) -> None:
    request = parse_app_request({**GOOD, "jwks": {"keys": [public_jwk(ec_key)]}})
    assert request.jwks == {"keys": [public_jwk(ec_key)]}


def test_pasted_jwks_text_must_be_json() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_jwks_text("{not json")
    assert (info.value.code, info.value.field, info.value.rule) == ("invalid_request", "jwks", "json")
