"""The customer's consent journeys in a real browser against ``obgw up`` (docs/architecture.md section 1, journeys 3
and 6): grant with one of two accounts chosen, deny, revoke on the dashboard (the token goes inactive at once,
RFC 7662), and a cross-site form post without the CSRF token refused.

The TPP side (registration through the sandbox portal and RFC 7591, the consent, PAR, token) is plain httpx; the
redirect back to the TPP goes to a host that does not exist, so the browser's request to it is intercepted and
its URL read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.live import LiveStack

TPP_HOST = "tpp.invalid"
REDIRECT_URI = f"https://{TPP_HOST}/callback"
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Tpp:
    stack: LiveStack
    fapi: FapiClient

    @property
    def url(self) -> str:
        return self.stack.gateway_url

    def token(self, form: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}/token", data={**form, **self.fapi.auth()},
                          headers={**FORM, "DPoP": self.fapi.dpop("POST", "/token")})

    def lodge_consent(self) -> str:
        issued = self.token({"grant_type": "client_credentials", "scope": "accounts"})
        assert issued.status_code == 200, issued.text
        access = issued.json()["access_token"]
        body = {"Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"],
                         "ExpirationDateTime": "2099-01-01T00:00:00+00:00"}, "Risk": {}}
        created = httpx.post(f"{self.url}{CONSENTS}", content=json.dumps(body), headers={
            "content-type": "application/json", "Authorization": f"DPoP {access}",
            "DPoP": self.fapi.dpop("POST", CONSENTS, access_token=access),
            "x-fapi-financial-id": "0015800001041RHAAY",
        })
        assert created.status_code == 201, f"{created.status_code} {created.text}"
        return str(created.json()["Data"]["ConsentId"])

    def push(self, consent_id: str) -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        params = self.fapi.authorization_params(challenge=challenge, scope="openid accounts", claims=json.dumps(
            {"id_token": {"openbanking_intent_id": {"value": consent_id, "essential": True}}}))
        request = self.fapi.request_object(params)
        pushed = httpx.post(f"{self.url}/par", data={"client_id": self.fapi.client_id, "request": request,
                                                      **self.fapi.auth()},
                            headers={**FORM, "DPoP": self.fapi.dpop("POST", "/par")})
        assert pushed.status_code == 201, pushed.text
        return str(pushed.json()["request_uri"]), verifier

    def authorize_url(self, request_uri: str) -> str:
        return f"{self.url}/authorize?" + urlencode({"client_id": self.fapi.client_id, "request_uri": request_uri})

    def introspect(self, token: str) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/introspect", data={"token": token, **self.fapi.auth()}, headers=FORM)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tpp(stack: LiveStack) -> Tpp:
    """An app created on the sandbox portal (keys generated there) and registered with the gateway (RFC 7591)."""
    created = httpx.post(f"{stack.sandbox_url}/portal/api/apps", json={
        "name": "Budget Buddy", "redirect_uris": [REDIRECT_URI], "roles": ["AISP"]})
    assert created.status_code == 201, created.text
    app = created.json()
    key = app["private_jwk"]
    registered = httpx.post(f"{stack.gateway_url}/register", json={
        "software_statement": app["software_statement"],
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": key.get("alg", "PS256"),
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "scope": "openid accounts",
        "application_type": "web",
        "id_token_signed_response_alg": "PS256",
        "request_object_signing_alg": key.get("alg", "PS256"),
        "software_id": app["software_id"],
    })
    assert registered.status_code == 201, registered.text
    fapi = FapiClient(client_id=registered.json()["client_id"], key=key, redirect_uri=REDIRECT_URI,
                      issuer=stack.gateway_url)
    return Tpp(stack=stack, fapi=fapi)


def intercept_redirect(page: Any) -> list[str]:
    """Catch the browser's request to the TPP's (non-existent) host; returns the list the URL lands in."""
    seen: list[str] = []

    def handle(route: Any) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="back at the TPP")

    page.route(f"https://{TPP_HOST}/**", handle)
    return seen


def sign_in(page: Any) -> None:
    page.get_by_label("Username").fill(PSU_USERNAME)
    page.get_by_label("Password").fill(PSU_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def grant(tpp: Tpp, page: Any, *, account_label: str = "Rainy day savings") -> tuple[str, dict[str, Any]]:
    """Lodge, push, approve in the browser with one account, redeem: (consent id, token response)."""
    consent_id = tpp.lodge_consent()
    request_uri, verifier = tpp.push(consent_id)
    seen = intercept_redirect(page)
    page.goto(tpp.authorize_url(request_uri))
    sign_in(page)
    page.get_by_role("heading", name=re.compile("Do you allow Budget Buddy")).wait_for()
    page.get_by_label(re.compile(account_label)).check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"https://{TPP_HOST}/**")
    assert seen, "the browser never reached the TPP's redirect URI"
    code = query_of(seen[-1])["code"]
    issued = tpp.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                        "code_verifier": verifier})
    assert issued.status_code == 200, issued.text
    return consent_id, issued.json()


def test_consent_granted_with_one_of_two_accounts(tpp: Tpp, browser_page: Any) -> None:
    page = browser_page
    consent_id, issued = grant(tpp, page)
    introspected = tpp.introspect(issued["access_token"])
    assert introspected["active"] is True
    assert introspected["openbanking_intent_id"] == consent_id
    page.goto(f"{tpp.url}/consents")
    card = page.locator(f"article:has-text('{consent_id}')")
    assert "Rainy day savings" in card.inner_text()
    assert "Alice's current account" not in card.inner_text()


def test_consent_denied_redirects_with_access_denied(tpp: Tpp, browser_page: Any) -> None:
    page = browser_page
    consent_id = tpp.lodge_consent()
    request_uri, _ = tpp.push(consent_id)
    seen = intercept_redirect(page)
    page.goto(tpp.authorize_url(request_uri))
    sign_in(page)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(f"https://{TPP_HOST}/**")
    assert query_of(seen[-1])["error"] == "access_denied"


def test_dashboard_revoke_makes_the_token_inactive(tpp: Tpp, browser_page: Any) -> None:
    page = browser_page
    consent_id, issued = grant(tpp, page)
    assert tpp.introspect(issued["access_token"])["active"] is True
    page.goto(f"{tpp.url}/consents")
    page.locator(f"article:has-text('{consent_id}')").get_by_role("link", name="Withdraw this access").click()
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_url(f"{tpp.url}/consents")
    assert "Revoked" in page.locator(f"article:has-text('{consent_id}')").inner_text()
    assert tpp.introspect(issued["access_token"]) == {"active": False}


def test_cross_site_form_post_without_csrf_is_refused(tpp: Tpp, browser_page: Any) -> None:
    page = browser_page
    consent_id, issued = grant(tpp, page)
    # A page on another origin posts a form at the revoke endpoint: no CSRF token (and a SameSite=Lax cookie).
    page.set_content(f"""<form id="f" method="post" action="{tpp.url}/consents/{consent_id}/revoke">
        <button type="submit">Go</button></form>""")
    with page.expect_response(re.compile(r"/consents/.+/revoke$")) as answer:
        page.get_by_role("button", name="Go").click()
    assert answer.value.status == 403
    assert tpp.introspect(issued["access_token"])["active"] is True
