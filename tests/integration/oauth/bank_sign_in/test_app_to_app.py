"""App-to-app: the bank's app as the authorization endpoint (docs/bank-sign-in.md section 2), walked step by step
as the app does it, against node-oidc-provider (this package's conftest) and a production-mode gateway.

The app is two HTTP clients: its web view (one user agent with its own cookie jar, where every gateway page is
loaded) and its native channel to its own identity provider (where the customer authenticates). The contract:
the web view loads the TPP's authorization URL unchanged and gets a ``303`` to the bank's authorization endpoint
with the parameters of section 1 step 2 (OpenID Connect Core 1.0 section 3.1.2.1); the app obtains the
provider's answer for exactly that request and loads the ``redirect_uri`` with ``code``, ``state`` and ``iss``
unchanged in the same web view (Core 1.0 section 3.1.2.5, RFC 9207); the consent page follows there, and the
approval ends with a ``303`` to the TPP's ``redirect_uri`` with ``code``, ``state`` and ``iss`` (RFC 9207), which
the app hands to the operating system. The answer loaded in another user agent is refused (RFC 6749 section
10.12: ``state`` binds it to the user agent that started the sign-in) and spends nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urljoin

import httpx
import pytest

from consent.lifecycle import ConsentStatus
from gateway.security import jose
from tests.helpers.bank_idp import ACR_SCA
from tests.helpers.consents import intent_claims
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.integration.oauth.bank_sign_in.conftest import CALLBACK
from tests.integration.oauth.bank_sign_in.conftest import GATEWAY
from tests.integration.oauth.bank_sign_in.conftest import assert_refused
from tests.integration.oauth.bank_sign_in.conftest import consent_status
from tests.integration.oauth.bank_sign_in.conftest import finish_at_bank
from tests.integration.oauth.bank_sign_in.conftest import open_at_bank
from tests.integration.oauth.bank_sign_in.conftest import psu_id_of
from tests.integration.oauth.bank_sign_in.conftest import tpp_with_consent

# Section 1 step 2: what the gateway's redirect to the bank carries, and nothing else.
REQUEST_PARAMETERS = {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                      "code_challenge_method", "acr_values", "claims"}
# How the app authenticated the customer natively (RFC 8176: facial biometrics, a hardware-bound key).
NATIVE_AMR = ("face", "hwk")


def user_agent(app: Any) -> httpx.AsyncClient:
    """A user agent of the gateway's pages: its own cookie jar, loads absolute URLs, follows nothing itself."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def web_view(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with user_agent(app) as client:
        yield client


async def test_the_banks_app_walks_the_redirect_contract_in_one_web_view(  # type: ignore[no-untyped-def]
    gateway, db, idp, web_view, app
) -> None:
    fapi, consent_id = await tpp_with_consent(db)
    verifier, challenge = pkce_pair()
    tpp_request = fapi.authorization_params(challenge=challenge, scope="openid accounts",
                                            claims=intent_claims(consent_id))
    pushed = await fapi.push(gateway, tpp_request)
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    # Step 1: the TPP's app opens the authorization URL; the operating system hands it to the bank's app.
    authorization_url = f"{GATEWAY}/authorize?{urlencode({'client_id': fapi.client_id, 'request_uri': request_uri})}"

    # Steps 2 and 3: the web view loads it unchanged and is sent to the bank's authorization endpoint.
    start = await web_view.get(authorization_url)
    assert start.status_code == 303, start.text
    assert web_view.cookies.get("__Host-obgw_psu", domain="bank.example")
    async with idp.browser() as native:
        endpoint = (await native.get(f"{idp.issuer}/.well-known/openid-configuration")).json()[
            "authorization_endpoint"]
        authentication_request = start.headers["location"]
        assert authentication_request.startswith(endpoint + "?"), authentication_request
        sent = query_of(authentication_request)
        assert set(sent) == REQUEST_PARAMETERS
        assert (sent["response_type"], sent["client_id"], sent["redirect_uri"], sent["scope"]) == (
            "code", idp.client_id, CALLBACK, "openid")
        assert sent["code_challenge_method"] == "S256" and sent["acr_values"] == ACR_SCA
        assert json.loads(sent["claims"]) == {"id_token": {
            "acr": {"essential": True, "values": [ACR_SCA]}, "amr": {"essential": True},
            "auth_time": {"essential": True}}}
        # The app recognises its own provider's endpoint and authenticates the customer natively, for exactly
        # that request: the provider received the same client, redirect URI, state, nonce and challenge.
        interaction, asked = await open_at_bank(native, idp, authentication_request)
        assert {name: asked.get(name) for name in sent} == sent
        answer = await finish_at_bank(native, idp, interaction, account=psu_id_of("alice"), amr=NATIVE_AMR)
    assert answer.startswith(CALLBACK + "?"), answer
    returned = query_of(answer)
    assert set(returned) == {"code", "state", "iss"}
    assert returned["state"] == sent["state"] and returned["iss"] == idp.issuer

    # The app then loads the redirect URI, unchanged, in the same web view.
    back = await web_view.get(answer)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"/authorize?{urlencode({'client_id': fapi.client_id, 'request_uri': request_uri})}"

    # Step 4: the consent page, in the web view; the customer approves there.
    page = await web_view.get(urljoin(GATEWAY, back.headers["location"]))
    assert page.status_code == 200, page.text
    assert 'action="/authorize/decision"' in page.text
    account = page.text.split('name="account_id" value="', 1)[1].split('"', 1)[0]
    decided = await web_view.post(f"{GATEWAY}/authorize/decision", data={
        "csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
        "decision": "approve", "account_id": account})

    # Step 5: a 303 to the TPP's registered redirect_uri with code, the TPP's own state and the gateway's iss;
    # the app hands it to the operating system and does not load it.
    assert decided.status_code == 303, decided.text
    to_tpp = decided.headers["location"]
    assert to_tpp.startswith(fapi.redirect_uri + "?"), to_tpp
    for_tpp = query_of(to_tpp)
    assert set(for_tpp) == {"code", "state", "iss"}
    assert for_tpp["state"] == tpp_request["state"] and for_tpp["iss"] == GATEWAY

    # The TPP's app redeems the code: the customer the bank signed in, as the bank authenticated them.
    tokens = await fapi.token(gateway, {"grant_type": "authorization_code", "code": for_tpp["code"],
                                        "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    id_token = jose.unverified_claims(tokens.json()["id_token"])
    assert id_token["openbanking_intent_id"] == consent_id
    assert id_token["acr"] == ACR_SCA and id_token["amr"] == list(NATIVE_AMR)
    assert await consent_status(db, consent_id) == (ConsentStatus.AUTHORISED, psu_id_of("alice"))


async def test_the_providers_answer_loaded_in_another_user_agent_is_refused_and_spends_nothing(  # type: ignore[no-untyped-def]
    gateway, db, idp, web_view, app
) -> None:
    fapi, consent_id = await tpp_with_consent(db)
    verifier, challenge = pkce_pair()
    pushed = await fapi.push(gateway, fapi.authorization_params(challenge=challenge, scope="openid accounts",
                                                                claims=intent_claims(consent_id)))
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    pending = urlencode({"client_id": fapi.client_id, "request_uri": request_uri})
    start = await web_view.get(f"{GATEWAY}/authorize?{pending}")
    assert start.status_code == 303, start.text
    async with idp.browser() as native:
        interaction, _ = await open_at_bank(native, idp, start.headers["location"])
        answer = await finish_at_bank(native, idp, interaction, account=psu_id_of("alice"), amr=NATIVE_AMR)

    # The app loads the answer in the system browser instead of its web view: no cookie there.
    async with user_agent(app) as system_browser:
        assert_refused(await system_browser.get(answer), 403,
                       "no sign-in at the bank is under way in this browser")
        assert not system_browser.cookies
    # A user agent that started a sign-in of its own for the same authorization URL (its own state).
    async with user_agent(app) as another:
        started = await another.get(f"{GATEWAY}/authorize?{pending}")
        assert started.status_code == 303, started.text
        assert query_of(started.headers["location"])["state"] != query_of(answer)["state"]
        assert_refused(await another.get(answer), 403, "does not belong to this sign-in")
    assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)

    # Neither refusal spent the state or the code: in the web view that started it, the answer signs in.
    back = await web_view.get(answer)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"/authorize?{pending}"
    page = await web_view.get(urljoin(GATEWAY, back.headers["location"]))
    assert page.status_code == 200 and 'action="/authorize/decision"' in page.text, page.text
