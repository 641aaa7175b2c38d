"""A domestic VRP consent with the customer in a real browser (vrp-openapi.yaml; docs/obie-notes-vrp-events.md
section 4): the TPP lodges a signed VRP consent, the customer reads payee, limits, validity and type in plain
words, picks the account to pay from and approves; the TPP pays twice under it and the dashboard lists the consent with its limits, the payments made and the allowance
left; the customer withdraws it there and the TPP's token goes inactive at once."""

from __future__ import annotations

import json
import urllib.parse
import uuid

import httpx
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

VRP_CONSENTS = "/open-banking/v3.1/pisp/domestic-vrp-consents"
BODY = {
    "Data": {
        "ControlParameters": {
            "ValidToDateTime": "2099-12-31T00:00:00+00:00",
            "MaximumIndividualAmount": {"Amount": "50.00", "Currency": "GBP"},
            "PeriodicLimits": [
                {"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "100.00", "Currency": "GBP"},
            ],
            "VRPType": ["UK.OBIE.VRPType.Sweeping"],
            "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
        },
        "Initiation": {"CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                           "Identification": "08080021325698", "Name": "Alice savings"}},
    },
    "Risk": {"PaymentContextCode": "PartyToParty"},
}
LIMITS = ("Alice savings (ending 5698)", "up to GBP 50.00", "GBP 100.00 per calendar month",
          "sweeping between your own accounts", "31 December 2099")


def test_customer_approves_a_vrp_consent_sees_its_limits_on_the_dashboard_and_revokes_it(  # type: ignore[no-untyped-def]
    stack: LiveStack, browser_page
) -> None:
    page = browser_page
    meta = httpx.get(f"{stack.gateway_url}/.well-known/openid-configuration").json()
    app = httpx.post(f"{stack.sandbox_url}/portal/api/apps", json=app_request(roles=("PISP",))).json()
    registered = httpx.post(meta["registration_endpoint"], json=registration_request(app, scope="openid payments"))
    assert registered.status_code == 201, registered.text
    oauth = OAuth2Client(
        client_id=registered.json()["client_id"], client_secret=app["private_jwk"],
        token_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg=app["private_jwk"]["alg"]),
    )
    dpop = DPoP()
    cc = oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="payments",
                           headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})["access_token"]
    url = f"{stack.gateway_url}{VRP_CONSENTS}"
    raw = json.dumps(BODY).encode()
    created = httpx.post(url, content=raw, headers={
        "Authorization": f"DPoP {cc}", "DPoP": dpop.proof("POST", url, access_token=cc),
        "Content-Type": "application/json", "x-idempotency-key": uuid.uuid4().hex,
        "x-jws-signature": sign_body(raw, key=app["private_jwk"], issuer=f"{app['org_id']}/{app['software_id']}"),
    })
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]

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
    for words in LIMITS:
        assert words in shown, words
    page.get_by_role("radio").nth(0).check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("https://tpp.example.org/**")
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(arrived[0]).query))["code"]
    tokens = oauth.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                               redirect_uri=REDIRECT_URI, code_verifier=verifier,
                               headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})

    read_url = f"{url}/{consent_id}"
    read = httpx.get(read_url, headers={"Authorization": f"DPoP {cc}",
                                        "DPoP": dpop.proof("GET", read_url, access_token=cc)})
    assert read.json()["Data"]["Status"] == "Authorised"

    # The TPP pays twice under the consent with the customer's token (signed, idempotent).
    vrps_url = f"{stack.gateway_url}/open-banking/v3.1/pisp/domestic-vrps"
    for n, amount in enumerate(("30.00", "12.50")):
        payment = json.dumps({"Data": {
            "ConsentId": consent_id, "PSUAuthenticationMethod": "UK.OBIE.SCANotRequired",
            "VRPType": "UK.OBIE.VRPType.Sweeping", "Initiation": BODY["Data"]["Initiation"],
            "Instruction": {"InstructionIdentification": f"i{n}", "EndToEndIdentification": f"e{n}",
                            "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
                            "CreditorAccount": BODY["Data"]["Initiation"]["CreditorAccount"]}},
            "Risk": BODY["Risk"]}).encode()
        token = tokens["access_token"]
        paid = httpx.post(vrps_url, content=payment, headers={
            "Authorization": f"DPoP {token}", "DPoP": dpop.proof("POST", vrps_url, access_token=token),
            "Content-Type": "application/json", "x-idempotency-key": uuid.uuid4().hex,
            "x-jws-signature": sign_body(payment, key=app["private_jwk"],
                                         issuer=f"{app['org_id']}/{app['software_id']}"),
        })
        assert paid.status_code == 201, paid.text

    # The bank session of the consent page opens the dashboard too: the limits, the payments and what is left.
    page.goto(f"{stack.gateway_url}/consents")
    card = page.locator(f"article:has-text('{consent_id}')")
    for words in (*LIMITS, "This calendar month: GBP 42.50 used, GBP 57.50 left"):
        assert words in card.inner_text(), words
    card.get_by_text("Payments made (2)").click()
    assert "GBP 30.00" in card.inner_text() and "GBP 12.50" in card.inner_text()
    card.get_by_role("link", name="Withdraw this access").click()
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_url(f"{stack.gateway_url}/consents")
    assert "Revoked" in page.locator(f"article:has-text('{consent_id}')").inner_text()
    introspected = oauth.request("POST", meta["introspection_endpoint"], withhold_token=True,
                                 **_introspection(oauth, meta, tokens["access_token"]))
    assert introspected.json() == {"active": False}


def _introspection(oauth: OAuth2Client, meta: dict, token: str) -> dict:  # type: ignore[type-arg]
    url, headers, form = client_authenticated_form(oauth, meta["introspection_endpoint"], {"token": token})
    return {"content": form, "headers": headers}
