"""A domestic payment end to end with the customer in a real browser: the TPP lodges a signed payment consent,
the customer sees payee, amount and reference on the bank's page, picks the debtor account and approves; the
TPP submits the signed payment order with the customer's DPoP-bound token and follows its status to
AcceptedSettlementCompleted (the sandbox clock runs one status step a second here)."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.helpers.jws import sign_body
from tests.helpers.tpp import PSU
from tests.helpers.tpp import REDIRECT_URI
from tests.helpers.tpp import DPoP
from tests.helpers.tpp import app_request
from tests.helpers.tpp import client_authenticated_form
from tests.helpers.tpp import intent_claims
from tests.helpers.tpp import registration_request
from tests.live import LiveStack
from tests.live import live_stack

PISP = "/open-banking/v3.1/pisp"
INITIATION = {
    "InstructionIdentification": "ACME412",
    "EndToEndIdentification": "FRESCO.21302.GFX.20",
    "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
    "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698",
                        "Name": "ACME Inc"},
    "RemittanceInformation": {"Reference": "FRESCO-101"},
}
RISK = {"PaymentContextCode": "EcommerceGoods"}


@pytest.fixture(scope="module")
def fast_clock_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("pay"), extra_env={"OBGW_SANDBOX_PAYMENT_STEP_SECONDS": "1"}) as s:
        yield s


def _signed_post(url: str, body: dict, *, token: str, dpop: DPoP, app: dict, key: str) -> httpx.Response:  # type: ignore[type-arg]
    raw = json.dumps(body).encode()
    signature = sign_body(raw, key=app["private_jwk"], issuer=f"{app['org_id']}/{app['software_id']}")
    return httpx.post(url, content=raw, headers={
        "Authorization": f"DPoP {token}", "DPoP": dpop.proof("POST", url, access_token=token),
        "Content-Type": "application/json", "x-idempotency-key": key, "x-jws-signature": signature,
    })


def test_customer_approves_a_payment_in_a_real_browser_and_it_settles(fast_clock_stack: LiveStack, browser_page) -> None:  # type: ignore[no-untyped-def]
    stack, page = fast_clock_stack, browser_page
    meta = httpx.get(f"{stack.gateway_url}/.well-known/openid-configuration").json()
    app = httpx.post(f"{stack.sandbox_url}/portal/api/apps", json=app_request(roles=("PISP",))).json()
    registered = httpx.post(meta["registration_endpoint"],
                            json=registration_request(app, scope="openid payments"))
    assert registered.status_code == 201, registered.text
    oauth = OAuth2Client(
        client_id=registered.json()["client_id"], client_secret=app["private_jwk"],
        token_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg=app["private_jwk"]["alg"]),
    )
    dpop = DPoP()
    cc = oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="payments",
                           headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})["access_token"]

    consent = _signed_post(f"{stack.gateway_url}{PISP}/domestic-payment-consents",
                           {"Data": {"Initiation": INITIATION}, "Risk": RISK}, token=cc, dpop=dpop, app=app,
                           key=uuid.uuid4().hex)
    assert consent.status_code == 201, consent.text
    consent_id = consent.json()["Data"]["ConsentId"]

    verifier, state = uuid.uuid4().hex * 2, uuid.uuid4().hex
    par_url, headers, form = client_authenticated_form(oauth, meta["pushed_authorization_request_endpoint"], {
        "response_type": "code", "client_id": oauth.client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid payments", "state": state, "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256", "claims": intent_claims(consent_id),
    })
    headers["DPoP"] = dpop.proof("POST", par_url)
    pushed = oauth.request("POST", par_url, content=form, headers=headers, withhold_token=True)
    assert pushed.status_code == 201, pushed.text

    arrived: list[str] = []
    page.route("https://tpp.example.org/**",
               lambda route: (arrived.append(route.request.url), route.fulfill(status=200, body="ok")))
    page.goto(f"{meta['authorization_endpoint']}?"
              + urllib.parse.urlencode({"client_id": oauth.client_id, "request_uri": pushed.json()["request_uri"]}))
    page.get_by_label("Username").fill(PSU[0])
    page.get_by_label("Password").fill(PSU[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Approve").wait_for()
    shown = page.content()
    for words in ("ACME Inc", "165.88", "FRESCO-101"):
        assert words in shown, words
    radios = page.get_by_role("radio")
    assert radios.count() >= 2
    radios.nth(0).check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("https://tpp.example.org/**")
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(arrived[0]).query))["code"]

    tokens = oauth.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                               redirect_uri=REDIRECT_URI, code_verifier=verifier,
                               headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})
    order = {"Data": {"ConsentId": consent_id, "Initiation": INITIATION}, "Risk": RISK}
    paid = _signed_post(f"{stack.gateway_url}{PISP}/domestic-payments", order, token=tokens["access_token"],
                        dpop=dpop, app=app, key="pay-once")
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["Data"]["DomesticPaymentId"]

    status_url = f"{stack.gateway_url}{PISP}/domestic-payments/{payment_id}"
    deadline, status = time.monotonic() + 20, ""
    while time.monotonic() < deadline:
        answer = httpx.get(status_url, headers={"Authorization": f"DPoP {cc}",
                                                "DPoP": dpop.proof("GET", status_url, access_token=cc)})
        assert answer.status_code == 200, answer.text
        status = answer.json()["Data"]["Status"]
        if status == "AcceptedSettlementCompleted":
            break
        time.sleep(0.5)
    assert status == "AcceptedSettlementCompleted"

    consent_now = httpx.get(f"{stack.gateway_url}{PISP}/domestic-payment-consents/{consent_id}", headers={
        "Authorization": f"DPoP {cc}",
        "DPoP": dpop.proof("GET", f"{stack.gateway_url}{PISP}/domestic-payment-consents/{consent_id}",
                           access_token=cc)})
    assert consent_now.json()["Data"]["Status"] == "Consumed"
