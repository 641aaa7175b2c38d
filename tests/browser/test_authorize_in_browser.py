"""FAPI 2.0 code flow with the customer in a real browser (Debian chromium through Playwright) against a
real ``obgw up``: PAR + PKCE S256 + private_key_jwt + DPoP on the TPP side, the bank's sign-in and
approval pages on the customer side, then the code redeemed for DPoP-bound tokens."""

from __future__ import annotations

import urllib.parse
import uuid

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.helpers.tpp import PSU
from tests.helpers.tpp import REDIRECT_URI
from tests.helpers.tpp import DPoP
from tests.helpers.tpp import app_request
from tests.helpers.tpp import client_authenticated_form
from tests.helpers.tpp import intent_claims
from tests.helpers.tpp import registration_request
from tests.live import LiveStack


def _tpp(stack: LiveStack) -> tuple[OAuth2Client, dict, DPoP]:  # type: ignore[type-arg]
    meta = httpx.get(f"{stack.gateway_url}/.well-known/openid-configuration").json()
    app = httpx.post(f"{stack.sandbox_url}/portal/api/apps", json=app_request()).json()
    registered = httpx.post(meta["registration_endpoint"], json=registration_request(app))
    assert registered.status_code == 201, registered.text
    oauth = OAuth2Client(
        client_id=registered.json()["client_id"], client_secret=app["private_jwk"],
        token_endpoint_auth_method=PrivateKeyJWT(token_endpoint=meta["issuer"], alg=app["private_jwk"]["alg"]),
    )
    return oauth, meta, DPoP()


def _push(stack: LiveStack, oauth: OAuth2Client, meta: dict, dpop: DPoP, verifier: str, state: str) -> str:  # type: ignore[type-arg]
    cc = oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="accounts",
                           headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})
    consents = f"{stack.gateway_url}/open-banking/v3.1/aisp/account-access-consents"
    created = httpx.post(consents, json={"Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}},
                         headers={"Authorization": f"DPoP {cc['access_token']}",
                                  "DPoP": dpop.proof("POST", consents, access_token=cc["access_token"])})
    assert created.status_code == 201, created.text
    par_url, headers, form = client_authenticated_form(oauth, meta["pushed_authorization_request_endpoint"], {
        "response_type": "code", "client_id": oauth.client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid accounts", "state": state, "nonce": uuid.uuid4().hex,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
        "claims": intent_claims(created.json()["Data"]["ConsentId"]),
    })
    headers["DPoP"] = dpop.proof("POST", par_url)
    pushed = oauth.request("POST", par_url, content=form, headers=headers, withhold_token=True)
    assert pushed.status_code == 201, pushed.text
    return str(pushed.json()["request_uri"])


def test_customer_signs_in_and_approves_in_a_real_browser(stack: LiveStack, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    oauth, meta, dpop = _tpp(stack)
    verifier, state = uuid.uuid4().hex * 2, uuid.uuid4().hex
    request_uri = _push(stack, oauth, meta, dpop, verifier, state)

    arrived: list[str] = []

    def tpp_callback(route) -> None:  # type: ignore[no-untyped-def]
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="back at the TPP")

    page.route("https://tpp.example.org/**", tpp_callback)
    query = urllib.parse.urlencode({"client_id": oauth.client_id, "request_uri": request_uri})
    page.goto(f"{meta['authorization_endpoint']}?{query}")
    page.get_by_label("Username").fill(PSU[0])
    page.get_by_label("Password").fill(PSU[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Approve").wait_for()
    checkboxes = page.get_by_role("checkbox")
    if checkboxes.count():
        checkboxes.first.check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("https://tpp.example.org/**")

    assert len(arrived) == 1
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(arrived[0]).query))
    assert params["state"] == state
    assert params["iss"] == meta["issuer"]
    tokens = oauth.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=params["code"],
                               redirect_uri=REDIRECT_URI, code_verifier=verifier,
                               headers={"DPoP": dpop.proof("POST", meta["token_endpoint"])})
    assert tokens["token_type"] == "DPoP"
    assert tokens["id_token"] and tokens["refresh_token"]


def test_customer_denies_in_a_real_browser(stack: LiveStack, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    oauth, meta, dpop = _tpp(stack)
    state = uuid.uuid4().hex
    request_uri = _push(stack, oauth, meta, dpop, uuid.uuid4().hex * 2, state)
    arrived: list[str] = []
    page.route("https://tpp.example.org/**",
               lambda route: (arrived.append(route.request.url), route.fulfill(status=200, body="ok")))
    page.goto(f"{meta['authorization_endpoint']}?"
              + urllib.parse.urlencode({"client_id": oauth.client_id, "request_uri": request_uri}))
    page.get_by_label("Username").fill(PSU[0])
    page.get_by_label("Password").fill(PSU[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url("https://tpp.example.org/**")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(arrived[0]).query))
    assert params["error"] == "access_denied"
    assert params["state"] == state and params["iss"] == meta["issuer"]
