"""RFC 9101 request objects under the FAPI rules: registered key, FAPI algorithm, iss = client_id,
aud = issuer, exp and nbf present, exp at most 60 minutes after nbf, nbf at most 60 minutes old."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.errors import InvalidRequestObject
from gateway.oauth.request_objects import verify_request_object
from gateway.security import jose

ISSUER = "https://bank.example"
CLIENT = "client-1"
KEY = jose.generate_key(alg="ES256")
# The shipped rulebook's algorithms.request_object and clock_skew.ahead_seconds (policies/fapi.yaml).
ALGS = ("PS256", "ES256")
SKEW = 10
NOW = int(time.time())


def signed(key: dict[str, Any] = KEY, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    claims: dict[str, Any] = {"iss": CLIENT, "aud": ISSUER, "nbf": NOW - 10, "exp": NOW + 300,
                              "response_type": "code", "scope": "openid accounts"}
    claims.update(overrides)
    for name in [k for k, v in claims.items() if v is None]:
        del claims[name]
    return jose.sign(claims, key=key, headers={"typ": "oauth-authz-req+jwt", **(headers or {})})


def verify(token: str, *, skew_ahead: int = SKEW) -> dict[str, Any]:
    return verify_request_object(token, client_id=CLIENT, issuer=ISSUER, jwks=[jose.public_jwk(KEY)], algorithms=ALGS,
                                 skew_ahead=skew_ahead, now=NOW)


def test_request_object_signed_by_a_registered_key_is_accepted() -> None:
    assert verify(signed())["scope"] == "openid accounts"


def test_request_object_aud_may_be_a_list_holding_the_issuer() -> None:
    assert verify(signed(aud=[ISSUER]))["iss"] == CLIENT


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://other.example"}, "aud"),
        ({"iss": "someone-else"}, "iss"),
        ({"client_id": "someone-else"}, "client_id"),
        ({"exp": None}, "exp"),
        ({"nbf": None}, "nbf"),
        ({"exp": NOW - 1}, "expired"),
        ({"nbf": NOW + 60}, "not yet valid"),
        ({"nbf": NOW - 3601, "exp": NOW + 10}, "nbf"),
        ({"nbf": NOW - 10, "exp": NOW - 10 + 3601}, "60 minutes after nbf"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "request_uri"),
    ],
)
def test_request_object_claim_rules(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRequestObject) as raised:
        verify(signed(**overrides))
    assert reason in str(raised.value.message)
    assert raised.value.error == "invalid_request_object"


def test_request_object_signed_by_an_unregistered_key_is_refused() -> None:
    impostor = {**jose.generate_key(alg="ES256"), "kid": KEY["kid"]}
    with pytest.raises(InvalidRequestObject, match="signature"):
        verify(signed(key=impostor))


def test_request_object_with_alg_none_is_refused() -> None:
    body = jose.b64url(b'{"iss":"client-1"}')
    with pytest.raises(InvalidRequestObject, match="alg"):
        verify(jose.b64url(b'{"alg":"none"}') + "." + body + ".")


def test_request_object_with_rs256_is_refused() -> None:
    rsa = jose.generate_key(alg="PS256")
    token = jose.sign({"iss": CLIENT, "aud": ISSUER, "nbf": NOW, "exp": NOW + 60}, key=rsa, alg="RS256")
    with pytest.raises(InvalidRequestObject, match="alg"):
        verify_request_object(token, client_id=CLIENT, issuer=ISSUER, jwks=[jose.public_jwk(rsa)], algorithms=ALGS,
                              skew_ahead=SKEW, now=NOW)


def test_request_object_with_an_unexpected_typ_is_refused() -> None:
    with pytest.raises(InvalidRequestObject, match="typ"):
        verify(signed(headers={"typ": "dpop+jwt"}))


def test_request_object_that_is_not_a_jwt_is_refused() -> None:
    with pytest.raises(InvalidRequestObject):
        verify("not-a-jwt")


def test_now_defaults_to_the_clock() -> None:
    now = int(time.time())
    token = signed(nbf=now - 5, exp=now + 60)
    assert verify_request_object(token, client_id=CLIENT, issuer=ISSUER, jwks=[jose.public_jwk(KEY)], algorithms=ALGS,
                                 skew_ahead=SKEW)["iss"] == CLIENT


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_the_skew_ahead_is_the_rulebooks(claim: str) -> None:
    # policies/fapi.yaml clock_skew.ahead_seconds: 0 refuses a claim 5 s ahead which 10 accepts.
    token = signed(**{claim: NOW + 5})
    assert verify(token, skew_ahead=10)["iss"] == CLIENT
    with pytest.raises(InvalidRequestObject, match="not yet valid|future"):
        verify(token, skew_ahead=0)
