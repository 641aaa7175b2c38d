"""OBIE message signing (R/W API v3.1.11 "Message Signing"; docs/obie-notes.md section 5 "JWS details"): every refusal of a
TPP's ``x-jws-signature`` in the order the error codes are checked, and the gateway's response signature."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from gateway import errors
from gateway.security import jose
from gateway.security import jws
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from tests.helpers.jws import IAT
from tests.helpers.jws import ISS
from tests.helpers.jws import TAN
from tests.helpers.jws import b64url
from tests.helpers.jws import detached
from tests.helpers.jws import sign_body
from tests.helpers.jws import tpp_header
from tests.helpers.jws import verify_detached

BODY = b'{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{}}'
CLIENT = SimpleNamespace(client_id="client-1", software_id="soft-1", org_id="org-1")
ISSUER = "org-1/soft-1"
# The shipped rulebook's values (policies/fapi.yaml clock_skew.ahead_seconds, algorithms.message_signature).
SKEW = 10
SHIPPED_ALGORITHMS = ("PS256",)


@pytest.fixture(scope="module")
def tpp_key() -> dict[str, Any]:
    return jose.generate_key(alg="PS256")


@pytest.fixture(scope="module")
def other_key() -> dict[str, Any]:
    return jose.generate_key(alg="PS256")


def check(value: str | None, key: dict[str, Any], *, body: bytes = BODY, client: Any = CLIENT,
          keys: list[dict[str, Any]] | None = None, clock_skew: int = SKEW,
          algorithms: tuple[str, ...] = SHIPPED_ALGORITHMS) -> None:
    jws.verify_request_signature(
        header_value=value, body=body, client=client,
        keys=[jose.public_jwk(key)] if keys is None else keys, now=time.time(),
        clock_skew=clock_skew, algorithms=algorithms,
    )


def refused(exc_type: type[errors.ObError], value: str | None, key: dict[str, Any], **kwargs: Any) -> errors.ObError:
    with pytest.raises(exc_type) as caught:
        check(value, key, **kwargs)
    error = caught.value
    # Every signature refusal is a 400 OBErrorResponse1 naming the header.
    assert error.status_code == 400
    assert error.errors[0].code == exc_type.code
    assert error.errors[0].path == "x-jws-signature"
    return error


def test_a_correct_signature_over_the_raw_body_is_accepted(tpp_key: dict[str, Any]) -> None:
    check(sign_body(BODY, key=tpp_key, issuer=ISSUER), tpp_key)


def test_typ_and_cty_are_optional(tpp_key: dict[str, Any]) -> None:
    check(sign_body(BODY, key=tpp_key, issuer=ISSUER, typ=None, cty=None), tpp_key)


def test_iat_within_the_ten_second_skew_is_accepted(tpp_key: dict[str, Any]) -> None:
    check(sign_body(BODY, key=tpp_key, issuer=ISSUER, iat=int(time.time()) + 5), tpp_key)


def test_the_skew_is_the_one_given_by_the_rulebook(tpp_key: dict[str, Any]) -> None:
    # policies/fapi.yaml clock_skew.ahead_seconds: 0 refuses what 10 accepts.
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER, iat=int(time.time()) + 5)
    check(value, tpp_key, clock_skew=10)
    refused(errors.SignatureInvalidClaim, value, tpp_key, clock_skew=0)


def test_an_alg_the_rulebook_does_not_list_is_invalid_claim(tpp_key: dict[str, Any]) -> None:
    # policies/fapi.yaml algorithms.message_signature: a PS256 signature is refused by a list without PS256.
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER)
    check(value, tpp_key, algorithms=("PS256",))
    error = refused(errors.SignatureInvalidClaim, value, tpp_key, algorithms=("ES256",))
    assert "ES256" in error.message


def test_a_client_without_an_organisation_signs_as_its_software_id(tpp_key: dict[str, Any]) -> None:
    lone = SimpleNamespace(client_id="c", software_id="soft-9", org_id="")
    check(sign_body(BODY, key=tpp_key, issuer="soft-9"), tpp_key, client=lone)


# --------------------------------------------------------------------------- UK.OBIE.Signature.Missing


@pytest.mark.parametrize("value", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_no_signature_is_missing(tpp_key: dict[str, Any], value: str | None) -> None:
    refused(errors.SignatureMissing, value, tpp_key)


# --------------------------------------------------------------------------- UK.OBIE.Signature.Malformed


def _protected(header: dict[str, Any]) -> str:
    import json

    return b64url(json.dumps(header).encode())


@pytest.mark.parametrize(
    "shape",
    ["one-segment", "two-segments", "four-segments", "payload-present", "bad-base64", "header-not-json",
     "header-an-array", "empty-signature"],
)
def test_a_value_that_is_not_a_detached_jws_is_malformed(tpp_key: dict[str, Any], shape: str) -> None:
    good = sign_body(BODY, key=tpp_key, issuer=ISSUER)
    protected, _, signature = good.split(".")
    value = {
        "one-segment": protected,
        "two-segments": f"{protected}.{signature}",
        "four-segments": f"{protected}...{signature}",
        # An attached (non-detached) JWS: the profile sends the payload in the HTTP body only.
        "payload-present": f"{protected}.{b64url(BODY)}.{signature}",
        "bad-base64": f"{protected}!..{signature}",
        "header-not-json": f"{b64url(b'not json')}..{signature}",
        "header-an-array": f"{b64url(b'[1,2]')}..{signature}",
        "empty-signature": f"{protected}..",
    }[shape]
    refused(errors.SignatureMalformed, value, tpp_key)


@pytest.mark.parametrize("b64", [False, True])
def test_the_b64_header_is_refused_from_v3_1_4_on(tpp_key: dict[str, Any], b64: bool) -> None:
    header = tpp_header(kid=tpp_key["kid"], issuer=ISSUER, b64=b64, crit=[IAT, ISS, TAN, "b64"])
    refused(errors.SignatureMalformed, detached(BODY, key=tpp_key, header=header), tpp_key)


# --------------------------------------------------------------------------- UK.OBIE.Signature.MissingClaim


@pytest.mark.parametrize("claim", ["alg", "kid", "crit", "iat", "iss", "tan"])
def test_each_mandatory_header_member_missing_is_missing_claim(tpp_key: dict[str, Any], claim: str) -> None:
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER, **{claim: None})
    error = refused(errors.SignatureMissingClaim, value, tpp_key)
    assert {"iat": IAT, "iss": ISS, "tan": TAN}.get(claim, claim) in error.message


# --------------------------------------------------------------------------- UK.OBIE.Signature.InvalidClaim


@pytest.mark.parametrize("alg", ["RS256", "ES256", "none", "HS256"])
def test_an_algorithm_other_than_ps256_is_invalid_claim(tpp_key: dict[str, Any], alg: str) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=ISSUER, alg=alg), tpp_key)


@pytest.mark.parametrize(
    "crit",
    [[IAT, ISS], [IAT, ISS, TAN, "exp"], [IAT, ISS, TAN, TAN], "http://openbanking.org.uk/iat", []],
    ids=["one-short", "extra-entry", "duplicate", "not-a-list", "empty"],
)
def test_crit_other_than_exactly_the_three_claims_is_invalid_claim(tpp_key: dict[str, Any], crit: Any) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=ISSUER, crit=crit), tpp_key)


def test_iat_beyond_the_skew_in_the_future_is_invalid_claim(tpp_key: dict[str, Any]) -> None:
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER, iat=int(time.time()) + 60)
    refused(errors.SignatureInvalidClaim, value, tpp_key)


@pytest.mark.parametrize("iat", ["1700000000", True, [1]], ids=["string", "boolean", "list"])
def test_iat_that_is_not_a_numeric_date_is_invalid_claim(tpp_key: dict[str, Any], iat: Any) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=ISSUER, iat=iat), tpp_key)


@pytest.mark.parametrize("issuer", ["org-2/soft-1", "org-1/soft-2", "soft-1", "org-1", ""],
                         ids=["other-org", "other-software", "software-alone", "org-alone", "empty"])
def test_iss_other_than_org_and_software_of_the_client_is_invalid_claim(tpp_key: dict[str, Any], issuer: str) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=issuer), tpp_key)


@pytest.mark.parametrize("tan", ["example.org", "openbanking.org.uk.evil", ""])
def test_a_tan_other_than_the_trust_anchor_is_invalid_claim(tpp_key: dict[str, Any], tan: str) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=ISSUER, tan=tan), tpp_key)


def test_the_configured_trust_anchor_replaces_the_default(tpp_key: dict[str, Any]) -> None:
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER, tan="directory.example.org")
    jws.verify_request_signature(header_value=value, body=BODY, client=CLIENT, keys=[jose.public_jwk(tpp_key)],
                                 now=time.time(), trust_anchor="directory.example.org", clock_skew=SKEW,
                                 algorithms=SHIPPED_ALGORITHMS)
    with pytest.raises(errors.SignatureInvalidClaim):
        jws.verify_request_signature(header_value=sign_body(BODY, key=tpp_key, issuer=ISSUER), body=BODY,
                                     client=CLIENT, keys=[jose.public_jwk(tpp_key)], now=time.time(),
                                     trust_anchor="directory.example.org", clock_skew=SKEW,
                                     algorithms=SHIPPED_ALGORITHMS)


def test_a_kid_not_among_the_clients_keys_is_invalid_claim(tpp_key: dict[str, Any], other_key: dict[str, Any]) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=other_key, issuer=ISSUER), tpp_key)


def test_a_kid_naming_a_non_rsa_key_is_invalid_claim(tpp_key: dict[str, Any]) -> None:
    ec = jose.public_jwk(jose.generate_key(alg="ES256", kid=tpp_key["kid"]))
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=ISSUER), tpp_key, keys=[ec])


@pytest.mark.parametrize("member", [{"jku": "https://evil.example/jwks"}, {"x5u": "https://evil.example/c"},
                                    {"typ": "JWT"}, {"cty": "text/plain"}], ids=["jku", "x5u", "typ", "cty"])
def test_other_header_members_are_invalid_claim(tpp_key: dict[str, Any], member: dict[str, str]) -> None:
    refused(errors.SignatureInvalidClaim, sign_body(BODY, key=tpp_key, issuer=ISSUER, **member), tpp_key)


# --------------------------------------------------------------------------- UK.OBIE.Signature.Invalid


def test_a_changed_body_is_invalid(tpp_key: dict[str, Any]) -> None:
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER)
    refused(errors.SignatureInvalid, value, tpp_key, body=BODY.replace(b"10.00", b"99.00"))


def test_the_same_json_reformatted_is_invalid(tpp_key: dict[str, Any]) -> None:
    # KB message-sign: the signature covers the bytes sent, never a re-serialised object.
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER)
    refused(errors.SignatureInvalid, value, tpp_key, body=BODY.replace(b":", b": "))


def test_a_signature_by_another_key_under_the_registered_kid_is_invalid(
    tpp_key: dict[str, Any], other_key: dict[str, Any]
) -> None:
    forged = sign_body(BODY, key={**other_key, "kid": tpp_key["kid"]}, issuer=ISSUER)
    refused(errors.SignatureInvalid, forged, tpp_key)


def test_a_truncated_signature_is_invalid(tpp_key: dict[str, Any]) -> None:
    value = sign_body(BODY, key=tpp_key, issuer=ISSUER)
    refused(errors.SignatureInvalid, value[:-8], tpp_key)


def test_the_first_failing_rule_decides_the_code(tpp_key: dict[str, Any]) -> None:
    # A missing claim is reported before an invalid one, and both before the signature itself.
    value = sign_body(BODY, key=tpp_key, issuer="wrong", tan=None)
    refused(errors.SignatureMissingClaim, value, tpp_key, body=b"tampered")


# --------------------------------------------------------------------------- the gateway's own signature


def test_response_signature_verifies_with_the_published_jwks_and_names_the_aspsp() -> None:
    keys = KeyStore.generate_in_memory()
    settings = Settings()
    value = jws.sign_response(body=BODY, keys=keys, settings=settings, algorithms=SHIPPED_ALGORITHMS)
    header = verify_detached(value, body=BODY, jwks=keys.public_jwks())
    assert header["kid"] == keys.current["kid"]
    assert header[ISS] == jws.SigningProfile.from_settings(settings).aspsp_org_id
    assert header[TAN] == "openbanking.org.uk"
    assert abs(header[IAT] - time.time()) < 5
    with pytest.raises(AssertionError):
        verify_detached(value, body=BODY + b" ", jwks=keys.public_jwks())


def test_the_gateway_accepts_its_own_signature_shape() -> None:
    # What sign() produces passes verify_request_signature for a client whose iss is the ASPSP's (round trip).
    key = jose.generate_key(alg="PS256")
    value = jws.sign(body=BODY, key=key, issuer="org-1/soft-1")
    check(value, key)


def test_the_gateway_signs_responses_only_with_an_alg_the_rulebook_lists() -> None:
    keys = KeyStore.generate_in_memory()
    with pytest.raises(jose.JoseError):
        jws.sign_response(body=BODY, keys=keys, settings=Settings(), algorithms=("ES256",))
