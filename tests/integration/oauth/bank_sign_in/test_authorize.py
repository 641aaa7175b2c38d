"""Production mode: the customer signs in at the bank's OpenID Connect provider (docs/architecture.md section 10,
docs/bank-sign-in.md), here node-oidc-provider started once for the module (this package's conftest).

OpenID Connect Core 1.0 sections 3.1.2.1 (the authentication request: code, PKCE S256, state, nonce,
acr_values), 3.1.2.6 (the provider's error answer), 3.1.3.7 (ID token validation: acr, nonce); RFC 6749 section
10.12 (state used once); RFC 9207 section 2.4 (iss of the answer); OpenID Connect Discovery 1.0 section 4.3 (the
metadata's issuer identical to the configured one). Every refusal is an error page and changes nothing: no
sign-in, the consent still awaiting authorisation, the pushed request still usable.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import httpx

from consent.lifecycle import ConsentStatus
from gateway.security import jose
from gateway.store.db import Database
from tests.helpers.bank_idp import ACR_CA
from tests.helpers.bank_idp import ACR_SCA
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import query_of
from tests.integration.oauth.bank_sign_in.conftest import CALLBACK
from tests.integration.oauth.bank_sign_in.conftest import GATEWAY
from tests.integration.oauth.bank_sign_in.conftest import approve_at_bank
from tests.integration.oauth.bank_sign_in.conftest import assert_refused
from tests.integration.oauth.bank_sign_in.conftest import at_the_bank
from tests.integration.oauth.bank_sign_in.conftest import consent_status
from tests.integration.oauth.bank_sign_in.conftest import finish_at_bank
from tests.integration.oauth.bank_sign_in.conftest import open_at_bank
from tests.integration.oauth.bank_sign_in.conftest import open_authorize
from tests.integration.oauth.bank_sign_in.conftest import production_gateway
from tests.integration.oauth.bank_sign_in.conftest import psu_id_of
from tests.integration.oauth.bank_sign_in.conftest import push
from tests.integration.oauth.bank_sign_in.conftest import signed_in_at_bank
from tests.integration.oauth.bank_sign_in.conftest import tpp_with_consent


async def assert_nobody_signed_in(gateway, db: Database, idp, fapi, consent_id: str, request_uri: str) -> None:  # type: ignore[no-untyped-def]
    """Nothing changed: the consent still awaits authorisation, and the authorization sends the customer to the
    bank again (no sign-in was recorded in the session)."""
    assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)
    again = await open_authorize(gateway, fapi, request_uri)
    assert again.status_code == 303 and again.headers["location"].startswith(idp.issuer)


async def test_authorize_redirects_to_the_bank_with_code_pkce_state_nonce_and_acr_values(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    assert start.status_code == 303
    location = urlsplit(start.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == idp.issuer
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == idp.client_id
    assert query["redirect_uri"] == CALLBACK and query["scope"] == "openid"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43 and query["state"] != query["nonce"]
    assert query["acr_values"] == ACR_SCA
    assert "__Host-obgw_psu=" in start.headers["set-cookie"]
    # A second visit starts a new sign-in: new state, new nonce.
    again = await open_authorize(gateway, fapi, request_uri)
    assert parse_qs(urlsplit(again.headers["location"]).query)["state"][0] != query["state"]


async def test_the_journey_signs_in_at_the_bank_and_binds_the_consent_to_its_customer(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, verifier = await push(gateway, fapi, consent_id)
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of("alice"))
    assert back.status_code == 303, back.text
    page = await gateway.get(back.headers["location"])
    assert page.status_code == 200, page.text
    assert 'action="/authorize/decision"' in page.text and 'name="username"' not in page.text
    account = page.text.split('name="account_id" value="', 1)[1].split('"', 1)[0]
    decided = await gateway.post("/authorize/decision", data={
        "csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
        "decision": "approve", "account_id": account})
    assert decided.status_code == 303, decided.text
    returned = query_of(decided.headers["location"])
    assert decided.headers["location"].startswith(fapi.redirect_uri + "?") and returned["iss"] == GATEWAY
    code = returned["code"]
    token = await fapi.token(gateway, {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": fapi.redirect_uri, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    id_token = jose.unverified_claims(token.json()["id_token"])
    assert id_token["sub"] and id_token["openbanking_intent_id"] == consent_id
    assert id_token["acr"] == ACR_SCA and id_token["amr"] == ["pwd", "otp"]
    assert await consent_status(db, consent_id) == (ConsentStatus.AUTHORISED, psu_id_of("alice"))


async def test_re_authentication_is_only_for_the_customer_the_bank_signed_in_first(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    async with idp.browser() as alice_at_bank:
        assert (await approve_at_bank(gateway, alice_at_bank, idp, fapi, request_uri, username="alice")).status_code == 303
    # Later, the TPP asks for re-authentication of the same consent; another customer signs in at the bank.
    again, _ = await push(gateway, fapi, consent_id)
    gateway.cookies.clear()
    async with idp.browser() as bob_at_bank:
        refused = await signed_in_at_bank(gateway, bob_at_bank, idp, fapi, again, account=psu_id_of("bob"))
        assert refused.status_code == 303, refused.text
        assert_refused(await gateway.get(refused.headers["location"]), 403, "another customer")
    # The customer it is bound to re-authenticates it.
    gateway.cookies.clear()
    async with idp.browser() as alice_again:
        confirmed = await approve_at_bank(gateway, alice_again, idp, fapi, again, username="alice")
    assert confirmed.status_code == 303 and "code" in query_of(confirmed.headers["location"])
    assert await consent_status(db, consent_id) == (ConsentStatus.AUTHORISED, psu_id_of("alice"))


async def test_an_acr_below_the_required_one_is_refused_and_changes_nothing(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of("alice"), acr=ACR_CA)
    assert_refused(back, 403, "access_denied")
    assert ACR_SCA in back.text
    # Not signed in: the authorization sends the customer to the bank again.
    await assert_nobody_signed_in(gateway, db, idp, fapi, consent_id, request_uri)


async def test_the_banks_error_answer_is_refused_and_changes_nothing(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    back = await signed_in_at_bank(gateway, browser, idp, fapi, request_uri, account=psu_id_of("alice"), abort=True)
    assert_refused(back, 403, "the customer cancelled")
    await assert_nobody_signed_in(gateway, db, idp, fapi, consent_id, request_uri)


async def test_a_replayed_answer_is_refused_even_with_the_earlier_cookie(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    cookie_before = dict(gateway.cookies)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    first = await gateway.get(back)
    assert first.status_code == 303, first.text
    # The same answer again, with the cookie as it was before the sign-in completed.
    gateway.cookies.clear()
    for name, value in cookie_before.items():
        gateway.cookies.set(name, value, domain="bank.example")
    replayed = await gateway.get(back)
    assert_refused(replayed, 403, "already used")


async def test_an_answer_with_a_state_this_browser_did_not_send_is_refused(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    query = query_of(back)
    forged = await gateway.get("/bank-sign-in/callback", params={**query, "state": "another-" + query["state"]})
    assert_refused(forged, 403, "does not belong to this sign-in")
    assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)


async def test_an_answer_without_a_sign_in_under_way_is_refused(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    gateway.cookies.clear()  # another browser: the answer was stolen on the way back
    assert_refused(await gateway.get(back), 403, "no sign-in at the bank is under way")


async def test_the_password_form_is_refused_in_production(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    await open_authorize(gateway, fapi, request_uri)
    response = await gateway.post("/login", data={"client_id": fapi.client_id, "request_uri": request_uri,
                                                  "username": "alice", "password": "alice-wonderland"})
    assert_refused(response, 400, "sign in at the bank")


def without(url: str, name: str) -> str:
    """``url`` with the query parameter ``name`` taken out, the others unchanged and in order."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != name])))


async def test_an_id_token_without_the_sign_ins_nonce_is_refused_and_spends_the_state(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    sent = query_of(start.headers["location"])
    # The request loses its nonce on the way to the bank. With response_type=code the nonce is optional (Core 1.0
    # section 3.1.2.1), so the provider signs the customer in and its ID token carries none (section 2).
    interaction, asked = await open_at_bank(browser, idp, without(start.headers["location"], "nonce"))
    assert "nonce" not in asked and asked["state"] == sent["state"]
    assert asked["code_challenge"] == sent["code_challenge"]
    back = await finish_at_bank(browser, idp, interaction, account=psu_id_of("alice"))
    assert back.startswith(CALLBACK + "?") and query_of(back)["iss"] == idp.issuer
    # Core 1.0 section 3.1.3.7 step 11: the nonce this sign-in sent must be in the ID token.
    assert_refused(await gateway.get(back), 403, "nonce missing")
    # The code went to the bank, so the state is spent: the same answer again is refused without a second try.
    assert_refused(await gateway.get(back), 403, "already used")
    # Nobody is signed in: the authorization sends the customer to the bank again.
    await assert_nobody_signed_in(gateway, db, idp, fapi, consent_id, request_uri)


async def test_an_answer_with_another_iss_or_none_is_refused_and_spends_nothing(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    start = await open_authorize(gateway, fapi, request_uri)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    genuine = query_of(back)
    assert genuine["iss"] == idp.issuer
    metadata = (await browser.get(f"{idp.issuer}/.well-known/openid-configuration")).json()
    assert metadata["authorization_response_iss_parameter_supported"] is True
    # RFC 9207 section 2.4: the provider says it sends iss, so an answer naming another issuer (a mix-up), one
    # naming it almost (a trailing slash) and one without iss are all refused, with this browser's own state.
    forged = [{**genuine, "iss": "https://attacker.example"}, {**genuine, "iss": idp.issuer + "/"},
              {k: v for k, v in genuine.items() if k != "iss"}]
    for answer in forged:
        refused = await gateway.get("/bank-sign-in/callback", params=answer)
        assert_refused(refused, 403, "the answer did not come from the bank&#39;s identity provider")
        assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)
    # A forged answer spends nothing: neither the state (the gateway claims it only after these checks) nor the
    # code (never sent to the bank), so it cannot burn the customer's sign-in. The genuine answer still signs in.
    cookie_before = dict(gateway.cookies)
    signed_in = await gateway.get(back)
    assert signed_in.status_code == 303, signed_in.text
    pending = urlencode({"client_id": fapi.client_id, "request_uri": request_uri})
    assert signed_in.headers["location"] == f"/authorize?{pending}"
    # Used once it passed: replayed with the cookie as it was, the genuine answer is refused.
    gateway.cookies.clear()
    for name, value in cookie_before.items():
        gateway.cookies.set(name, value, domain="bank.example")
    assert_refused(await gateway.get(back), 403, "already used")


class Recorded(httpx.AsyncBaseTransport):
    """The gateway's calls to the provider, passed on unchanged, with what the provider answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.seen.append((str(request.url), response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_provider_whose_metadata_names_another_issuer_is_not_used(  # type: ignore[no-untyped-def]
    production, production_keys, sandbox_app, idp, caplog
) -> None:
    # OBGW_BANK_IDP_ISSUER ends with a slash: the metadata is read from the very same URL, but the provider's
    # document names its issuer without it. Discovery 1.0 section 4.3: the two must be identical.
    configured = idp.issuer + "/"
    provider = Recorded(idp.transport())
    async with (
        production_gateway(production.replace(bank_idp_issuer=configured), keys=production_keys,
                           sandbox_app=sandbox_app, bank_idp_transport=provider) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY) as gateway,
    ):
        db = Database(production.database_url)
        try:
            fapi, consent_id = await tpp_with_consent(db)
            request_uri, _ = await push(gateway, fapi, consent_id)
            with caplog.at_level(logging.WARNING, logger="gateway.oauth.bank_sign_in"):
                authorize = await open_authorize(gateway, fapi, request_uri)
                dashboard = await gateway.get("/consents")
                assert dashboard.status_code == 200, dashboard.text
                button = await gateway.post("/consents/bank-sign-in",
                                            data={"csrf": hidden_field(dashboard.text, "csrf")})
            # No redirect to the provider, from the authorization or from the dashboard's button.
            assert_refused(authorize, 503, "The bank cannot sign you in right now")
            assert_refused(button, 503, "The bank cannot sign you in right now")
            assert await consent_status(db, consent_id) == (ConsentStatus.AWAITING_AUTHORISATION, None)
        finally:
            await db.dispose()
    # The live provider did answer its metadata; nothing else was asked of it.
    discovery = f"{idp.issuer}/.well-known/openid-configuration"
    assert provider.seen == [(discovery, 200), (discovery, 200)]
    # The operator learns why from the log; the customer's page does not say.
    expected = f"names issuer {idp.issuer!r}, not {configured!r}"
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.oauth.bank_sign_in"]
    assert len(warnings) == 2 and all(w.endswith(expected) for w in warnings), warnings
    assert idp.issuer not in authorize.text
