"""The funds-confirmation history on the dashboard in a real browser (CoF profile; issue "Long-lived consents"):
a CBPII's consent approved by the customer, two checks answered yes and no, and the dashboard listing each check
with the amount asked and the answer the bank gave."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.browser.test_consent_journeys import FORM
from tests.browser.test_consent_journeys import REDIRECT_URI
from tests.browser.test_consent_journeys import TPP_HOST
from tests.browser.test_consent_journeys import intercept_redirect
from tests.browser.test_consent_journeys import sign_in
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.live import LiveStack

CONSENTS = "/open-banking/v3.1/cbpii/funds-confirmation-consents"
CHECKS = "/open-banking/v3.1/cbpii/funds-confirmations"


def _cbpii(stack: LiveStack) -> FapiClient:
    app = httpx.post(f"{stack.sandbox_url}/portal/api/apps", json={
        "name": "Card Checker", "redirect_uris": [REDIRECT_URI], "roles": ["CBPII"]}).json()
    key = app["private_jwk"]
    registered = httpx.post(f"{stack.gateway_url}/register", json={
        "software_statement": app["software_statement"], "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": key.get("alg", "PS256"),
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "response_types": ["code"],
        "scope": "openid fundsconfirmations", "application_type": "web", "id_token_signed_response_alg": "PS256",
        "request_object_signing_alg": key.get("alg", "PS256"), "software_id": app["software_id"],
    })
    assert registered.status_code == 201, registered.text
    return FapiClient(client_id=registered.json()["client_id"], key=key, redirect_uri=REDIRECT_URI,
                      issuer=stack.gateway_url)


def _token(stack: LiveStack, fapi: FapiClient, form: dict[str, str]) -> dict[str, Any]:
    issued = httpx.post(f"{stack.gateway_url}/token", data={**form, **fapi.auth()},
                        headers={**FORM, "DPoP": fapi.dpop("POST", "/token")})
    assert issued.status_code == 200, issued.text
    return issued.json()  # type: ignore[no-any-return]


def test_each_funds_check_shows_on_the_dashboard_with_its_answer(stack: LiveStack, browser_page: Any) -> None:
    page, fapi = browser_page, _cbpii(stack)
    cc = _token(stack, fapi, {"grant_type": "client_credentials", "scope": "fundsconfirmations"})["access_token"]
    body = {"Data": {"ExpirationDateTime": "2099-01-01T00:00:00+00:00",
                     "DebtorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                       "Identification": "40400422390112", "Name": "Alice"}}}
    created = httpx.post(f"{stack.gateway_url}{CONSENTS}", content=json.dumps(body), headers={
        "content-type": "application/json", "Authorization": f"DPoP {cc}",
        "DPoP": fapi.dpop("POST", CONSENTS, access_token=cc)})
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]

    verifier, challenge = pkce_pair()
    params = fapi.authorization_params(challenge=challenge, scope="openid fundsconfirmations", claims=json.dumps(
        {"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}}))
    pushed = httpx.post(f"{stack.gateway_url}/par", data={"client_id": fapi.client_id,
                                                          "request": fapi.request_object(params), **fapi.auth()},
                        headers={**FORM, "DPoP": fapi.dpop("POST", "/par")})
    assert pushed.status_code == 201, pushed.text
    seen = intercept_redirect(page)
    page.goto(f"{stack.gateway_url}/authorize?client_id={fapi.client_id}&request_uri={pushed.json()['request_uri']}")
    sign_in(page)
    page.get_by_role("radio").nth(0).check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"https://{TPP_HOST}/**")
    token = _token(stack, fapi, {"grant_type": "authorization_code", "code": query_of(seen[-1])["code"],
                                 "redirect_uri": REDIRECT_URI, "code_verifier": verifier})["access_token"]

    for amount, expected in (("10.00", True), ("99999999.00", False)):
        check = {"Data": {"ConsentId": consent_id, "Reference": "Purchase01",
                          "InstructedAmount": {"Amount": amount, "Currency": "GBP"}}}
        answered = httpx.post(f"{stack.gateway_url}{CHECKS}", content=json.dumps(check), headers={
            "content-type": "application/json", "Authorization": f"DPoP {token}",
            "DPoP": fapi.dpop("POST", CHECKS, access_token=token)})
        assert answered.status_code == 201, answered.text
        assert answered.json()["Data"]["FundsAvailable"] is expected

    page.goto(f"{stack.gateway_url}/consents")
    card = page.locator(f"article:has-text('{consent_id}')")
    card.get_by_text(re.compile("History")).first.click()
    text = card.inner_text()
    assert "asked whether GBP 10.00 is available, answered yes" in text
    assert "asked whether GBP 99999999.00 is available, answered no" in text
