"""``x-jws-signature`` on the payment-consent endpoints (R/W API v3.1.11 "Message Signing", the PISP endpoint
table: "Signed Request" and "Signed Response"; docs/obie-notes.md sections 5 and 6): a POST without a valid TPP signature is a
400 with the signature code and creates nothing; every answer with a body, refusals too, is signed by the gateway
with a key published at ``/jwks``."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from gateway.security import jose
from tests.helpers.jws import IAT
from tests.helpers.jws import ISS
from tests.helpers.jws import TAN
from tests.helpers.jws import detached
from tests.helpers.jws import sign_body
from tests.helpers.jws import tpp_header
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import PAYMENT_COLLECTIONS
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import payment_body

DOMESTIC = PAYMENT_COLLECTIONS[0]
IDS = ["domestic", "scheduled", "standing-order"]


async def post_with(tpp: Tpp, collection: str, signature: str | None, *, content: bytes | None = None) -> Any:
    content = content if content is not None else json.dumps(payment_body(collection)).encode()
    headers = {"x-idempotency-key": "sig-1"}
    if signature is not None:
        headers["x-jws-signature"] = signature
    return await tpp.call("POST", collection, content=content, headers=headers, sign=False)


async def refused(tpp: Tpp, db: Any, response: Any, code: str) -> None:
    assert_ob_error(response, 400, code, "x-jws-signature")
    # Errors of a signed endpoint are signed too (Tpp.call checked the signature against /jwks).
    assert response.headers["x-jws-signature"]
    assert await consent_count(db, tpp.fapi.client_id) == 0


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_an_unsigned_payment_consent_is_400_signature_missing(tpp: Tpp, db, collection: str) -> None:  # type: ignore[no-untyped-def]
    await refused(tpp, db, await post_with(tpp, collection, None), "UK.OBIE.Signature.Missing")


@pytest.mark.parametrize("collection", PAYMENT_COLLECTIONS, ids=IDS)
async def test_a_signed_payment_consent_is_created_and_its_answer_signed_by_the_gateway(tpp: Tpp, collection: str) -> None:
    response = await tpp.create(collection, payment_body(collection), key="sig-ok")
    assert response.status_code == 201, response.text
    header = await tpp.assert_signed(response)
    assert header[TAN] == "openbanking.org.uk"
    assert header[ISS]


@pytest.mark.parametrize("value", ["not-a-jws", "a.b", "e30.e30.c2ln", "e30..c2ln"],
                         ids=["one-segment", "two-segments", "payload-present", "header-without-claims"])
async def test_a_signature_that_is_not_a_detached_jws_is_refused(tpp: Tpp, db, value: str) -> None:  # type: ignore[no-untyped-def]
    response = await post_with(tpp, DOMESTIC, value)
    code = "UK.OBIE.Signature.MissingClaim" if value == "e30..c2ln" else "UK.OBIE.Signature.Malformed"
    await refused(tpp, db, response, code)


async def test_b64_false_is_refused_as_malformed(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    content = json.dumps(payment_body(DOMESTIC)).encode()
    header = tpp_header(kid=tpp.fapi.key["kid"], issuer=tpp.signer, b64=False, crit=[IAT, ISS, TAN, "b64"])
    await refused(tpp, db, await post_with(tpp, DOMESTIC, detached(content, key=tpp.fapi.key, header=header),
                                           content=content), "UK.OBIE.Signature.Malformed")


@pytest.mark.parametrize("claim", ["alg", "kid", "crit", "iat", "iss", "tan"])
async def test_a_missing_header_claim_is_refused(tpp: Tpp, db, claim: str) -> None:  # type: ignore[no-untyped-def]
    content = json.dumps(payment_body(DOMESTIC)).encode()
    value = sign_body(content, key=tpp.fapi.key, issuer=tpp.signer, **{claim: None})
    await refused(tpp, db, await post_with(tpp, DOMESTIC, value, content=content), "UK.OBIE.Signature.MissingClaim")


@pytest.mark.parametrize(
    "changes",
    [{"alg": "RS256"}, {"crit": [IAT, ISS]}, {"iat": "future"}, {"iss": "org/another-software"},
     {"tan": "directory.example.org"}, {"kid": "unregistered"}],
    ids=["alg", "crit", "iat", "iss", "tan", "kid"],
)
async def test_an_invalid_header_claim_is_refused(tpp: Tpp, db, changes: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    content = json.dumps(payment_body(DOMESTIC)).encode()
    if changes.get("iat") == "future":
        changes = {"iat": int(time.time()) + 120}
    value = sign_body(content, key=tpp.fapi.key, issuer=tpp.signer, **changes)
    await refused(tpp, db, await post_with(tpp, DOMESTIC, value, content=content), "UK.OBIE.Signature.InvalidClaim")


async def test_a_signature_over_another_body_is_invalid(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    signed = json.dumps(payment_body(DOMESTIC)).encode()
    sent = signed.replace(b"165.88", b"965.88")
    value = sign_body(signed, key=tpp.fapi.key, issuer=tpp.signer)
    await refused(tpp, db, await post_with(tpp, DOMESTIC, value, content=sent), "UK.OBIE.Signature.Invalid")


async def test_a_signature_by_a_key_the_client_did_not_register_is_invalid(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    content = json.dumps(payment_body(DOMESTIC)).encode()
    stranger = {**jose.generate_key(alg="PS256"), "kid": tpp.fapi.key["kid"]}
    value = sign_body(content, key=stranger, issuer=tpp.signer)
    await refused(tpp, db, await post_with(tpp, DOMESTIC, value, content=content), "UK.OBIE.Signature.Invalid")


async def test_get_and_its_refusals_are_signed(tpp: Tpp) -> None:
    consent_id = (await tpp.create(DOMESTIC, payment_body(DOMESTIC), key="g")).json()["Data"]["ConsentId"]
    found = await tpp.call("GET", f"{DOMESTIC}/{consent_id}")
    assert found.status_code == 200
    await tpp.assert_signed(found)
    unknown = await tpp.call("GET", f"{DOMESTIC}/pdc-unknown")
    assert_ob_error(unknown, 400, "UK.OBIE.Resource.NotFound")
    await tpp.assert_signed(unknown)


async def test_account_access_consents_are_neither_checked_nor_signed(tpp: Tpp) -> None:
    # The AIS consent endpoint is not a "Signed Request" / "Signed Response" endpoint.
    response = await tpp.call("POST", AISP, body=account_access_body())
    assert response.status_code == 201, response.text
    assert "x-jws-signature" not in response.headers
