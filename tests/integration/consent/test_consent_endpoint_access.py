"""Who may call the consent endpoints and in what media type (docs/obie-notes.md section 2 legend "CC", sections 5 and 6):
a sender-constrained client-credentials token with the API's scope; 401 without a body for any token problem,
403 for a missing scope, 406 for an unacceptable Accept, 415 for a non-JSON body, 405 for an undefined method."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.helpers.oauth import sign_in
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import CBPII
from tests.integration.consent.conftest import PAYMENT_COLLECTIONS
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import assert_bodyless
from tests.integration.consent.conftest import assert_matches_spec
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import consent_count
from tests.integration.consent.conftest import funds_body
from tests.integration.consent.conftest import new_tpp
from tests.integration.consent.conftest import payment_body

DOMESTIC = PAYMENT_COLLECTIONS[0]
BODIES = {AISP: account_access_body(), DOMESTIC: payment_body(DOMESTIC), CBPII: funds_body()}


@pytest.mark.parametrize("collection", list(BODIES), ids=["aisp", "pisp", "cbpii"])
async def test_no_token_is_401_without_a_body(tpp: Tpp, db, collection: str) -> None:  # type: ignore[no-untyped-def]
    response = await tpp.call("POST", collection, body=BODIES[collection], authorized=False,
                              headers={"x-idempotency-key": "k"})
    assert_bodyless(response, 401)
    assert "DPoP" in response.headers["www-authenticate"]
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_unknown_token_is_401_invalid_token_without_a_body(tpp: Tpp) -> None:
    headers = {"Authorization": "DPoP not-a-token", "DPoP": tpp.fapi.dpop("GET", f"{AISP}/aac-x", access_token="not-a-token")}
    response = await tpp.call("GET", f"{AISP}/aac-x", authorized=False, headers=headers)
    assert_bodyless(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_dpop_token_without_a_proof_is_401_invalid_dpop_proof(tpp: Tpp) -> None:
    response = await tpp.call("GET", f"{AISP}/aac-x", authorized=False, headers={"Authorization": f"DPoP {tpp.token}"})
    assert_bodyless(response, 401)
    assert 'error="invalid_dpop_proof"' in response.headers["www-authenticate"]


async def test_a_customer_token_is_401_on_a_consent_endpoint(client, db, obie_specs) -> None:  # type: ignore[no-untyped-def]
    # docs/obie-notes.md section 2: consent endpoints take the TPP's client-credentials token; the FCS expects 401 for the
    # wrong grant.
    tpp = await new_tpp(client, db, obie_specs)
    consent_id = (await tpp.create(AISP, account_access_body())).json()["Data"]["ConsentId"]
    claims = json.dumps({"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}})
    customer = Tpp(http=client, fapi=tpp.fapi, specs=obie_specs,
                   token=await _customer_token(client, tpp.fapi, claims=claims))
    response = await customer.call("POST", AISP, body=account_access_body())
    assert_bodyless(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "grant type" in response.headers["www-authenticate"]
    assert await consent_count(db, tpp.fapi.client_id) == 1


async def _customer_token(http: httpx.AsyncClient, fapi: FapiClient, *, claims: str) -> str:
    """The customer's token (authorization-code grant): PAR, sign in, choose an account, approve, redeem."""
    verifier, challenge = pkce_pair()
    pushed = await fapi.push(http, fapi.authorization_params(challenge=challenge, scope="openid accounts", claims=claims))
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    page = await http.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})
    signed_in = await sign_in(http, fapi, request_uri, page)
    assert signed_in.status_code == 303, signed_in.text
    page = await http.get(signed_in.headers["location"])
    account = re.search(r'name="account_id" value="([^"]+)"', page.text)
    assert account, page.text
    decided = await http.post("/authorize/decision", data={
        "csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
        "decision": "approve", "account_id": account.group(1),
    })
    assert decided.status_code == 303, decided.text
    code = query_of(decided.headers["location"])["code"]
    redeemed = await fapi.token(http, {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})
    assert redeemed.status_code == 200, redeemed.text
    return str(redeemed.json()["access_token"])


@pytest.mark.parametrize(
    ("scope", "collection"),
    [("accounts", DOMESTIC), ("payments", AISP), ("accounts", CBPII)],
    ids=["accounts-token-on-pisp", "payments-token-on-aisp", "accounts-token-on-cbpii"],
)
async def test_a_token_without_the_apis_scope_is_403(client, db, obie_specs, scope: str, collection: str) -> None:  # type: ignore[no-untyped-def]
    narrow = await new_tpp(client, db, obie_specs, scope=scope)
    response = await narrow.create(collection, BODIES[collection], key="k")
    assert_ob_error(response, 403, "UK.OBIE.Header.Invalid", "Authorization")
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert await consent_count(db, narrow.fapi.client_id) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=iso-8859-1", "application/jose+jwe"])
async def test_a_body_that_is_not_json_is_415(tpp: Tpp, db, content_type: str) -> None:  # type: ignore[no-untyped-def]
    response = await tpp.call("POST", AISP, body=BODIES[AISP], headers={"Content-Type": content_type})
    assert_bodyless(response, 415)
    assert await consent_count(db, tpp.fapi.client_id) == 0


async def test_json_with_utf8_charset_is_accepted(tpp: Tpp) -> None:
    response = await tpp.call("POST", AISP, body=BODIES[AISP], headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json; charset=iso-8859-1",
                                    "application/json;q=0, */*"])
async def test_an_unacceptable_accept_is_406(tpp: Tpp, db, accept: str) -> None:  # type: ignore[no-untyped-def]
    response = await tpp.call("POST", AISP, body=BODIES[AISP], headers={"Accept": accept})
    assert_bodyless(response, 406)
    assert await consent_count(db, tpp.fapi.client_id) == 0
    consent_id = (await tpp.create(AISP, BODIES[AISP])).json()["Data"]["ConsentId"]
    assert_bodyless(await tpp.call("GET", f"{AISP}/{consent_id}", headers={"Accept": accept}), 406)


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/*", "text/html, application/json;q=0.5"])
async def test_json_compatible_accept_is_served(tpp: Tpp, accept: str) -> None:
    response = await tpp.call("POST", AISP, body=BODIES[AISP], headers={"Accept": accept})
    assert response.status_code == 201, response.text


async def test_undefined_method_is_405_without_a_body(tpp: Tpp) -> None:
    response = await tpp.call("PUT", AISP, body=BODIES[AISP], check=False)
    assert_bodyless(response, 405)
    assert response.headers["allow"] == "POST"


async def test_interaction_id_is_echoed_on_success_and_on_refusal(tpp: Tpp) -> None:
    interaction = str(uuid.uuid4())
    created = await tpp.call("POST", AISP, body=BODIES[AISP], headers={"x-fapi-interaction-id": interaction})
    assert created.headers["x-fapi-interaction-id"] == interaction
    refused = await tpp.call("GET", f"{AISP}/aac-unknown", headers={"x-fapi-interaction-id": interaction})
    assert refused.headers["x-fapi-interaction-id"] == interaction


async def test_the_spec_check_itself_refuses_a_response_that_breaks_the_document(tpp: Tpp) -> None:
    # The response checks in these tests can fail: a 201 whose Status is outside the enum is refused.
    response = await tpp.create(AISP, BODIES[AISP])
    broken = response.json()
    broken["Data"]["Status"] = "Pending"
    forged = httpx.Response(201, json=broken, request=response.request,
                            headers={"x-fapi-interaction-id": str(uuid.uuid4())})
    with pytest.raises(Exception, match="(?i)invalid|not valid"):
        assert_matches_spec(tpp.specs, forged)
