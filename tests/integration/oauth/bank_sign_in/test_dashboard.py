"""Production mode: the customer signs in to the consent dashboard (``/consents``) at the bank's OpenID Connect
provider, through the same relying party and callback as the authorization (docs/architecture.md section 10,
docs/bank-sign-in.md section 3), and the password form is refused.

OpenID Connect Core 1.0 sections 3.1.2.1 (the authentication request) and 3.1.3.7 (ID token validation: acr);
RFC 6749 section 10.12 (state used once). The callback sends the customer to ``/consents`` because the sign-in
was started there (bound into the signed session cookie), never to a URL taken from the request. A refused
sign-in is an error page and signs nobody in.
"""

from __future__ import annotations

import httpx

from consent.lifecycle import ConsentStatus
from tests.helpers.bank_idp import ACR_CA
from tests.helpers.bank_idp import BankIdp
from tests.helpers.oauth import hidden_field
from tests.integration.oauth.bank_sign_in.conftest import CALLBACK
from tests.integration.oauth.bank_sign_in.conftest import approve_at_bank
from tests.integration.oauth.bank_sign_in.conftest import assert_refused
from tests.integration.oauth.bank_sign_in.conftest import at_the_bank
from tests.integration.oauth.bank_sign_in.conftest import consent_status
from tests.integration.oauth.bank_sign_in.conftest import psu_id_of
from tests.integration.oauth.bank_sign_in.conftest import push
from tests.integration.oauth.bank_sign_in.conftest import tpp_with_consent


async def authorised_by(gateway: httpx.AsyncClient, db, idp: BankIdp, username: str) -> str:  # type: ignore[no-untyped-def]
    """An account-access consent the customer approved after signing in at the bank (then signed out here)."""
    fapi, consent_id = await tpp_with_consent(db)
    request_uri, _ = await push(gateway, fapi, consent_id)
    async with idp.browser() as at_bank:
        decided = await approve_at_bank(gateway, at_bank, idp, fapi, request_uri, username=username)
    assert decided.status_code == 303, decided.text
    gateway.cookies.clear()
    return consent_id


async def start_at_bank(gateway: httpx.AsyncClient) -> httpx.Response:
    """The signed-out dashboard: a page with one button (no password field) that posts to the bank sign-in."""
    page = await gateway.get("/consents")
    assert page.status_code == 200, page.text
    assert 'action="/consents/bank-sign-in"' in page.text and 'name="password"' not in page.text
    start = await gateway.post("/consents/bank-sign-in", data={"csrf": hidden_field(page.text, "csrf")})
    assert start.status_code == 303, start.text
    return start


async def open_dashboard_at_bank(gateway: httpx.AsyncClient, browser: httpx.AsyncClient, idp: BankIdp, *,
                                 username: str, **at_bank: object) -> httpx.Response:
    """``GET /consents`` signed out, its one button, the 303 to the bank, the sign-in there, and the callback."""
    start = await start_at_bank(gateway)
    assert start.headers["location"].startswith(idp.issuer + "/"), start.headers["location"]
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of(username), **at_bank)
    assert back.startswith(CALLBACK + "?"), back
    return await gateway.get(back)


async def test_the_dashboard_signs_in_at_the_bank_and_shows_only_the_customers_own_consents(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    alices = await authorised_by(gateway, db, idp, "alice")
    bobs = await authorised_by(gateway, db, idp, "bob")
    back = await open_dashboard_at_bank(gateway, browser, idp, username="alice")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/consents"
    page = await gateway.get("/consents")
    assert page.status_code == 200, page.text
    assert 'name="password"' not in page.text
    assert f"Reference {alices}" in page.text and bobs not in page.text
    # Withdraw it: the confirmation page, then the form with the session's CSRF token.
    confirm = await gateway.get(f"/consents/{alices}/revoke")
    assert confirm.status_code == 200, confirm.text
    revoked = await gateway.post(f"/consents/{alices}/revoke", data={"csrf": hidden_field(confirm.text, "csrf")})
    assert revoked.status_code == 303, revoked.text
    assert await consent_status(db, alices) == (ConsentStatus.REVOKED, psu_id_of("alice"))
    # Another customer's consent is not hers to see or withdraw.
    assert (await gateway.get(f"/consents/{bobs}/revoke")).status_code == 404
    assert await consent_status(db, bobs) == (ConsentStatus.AUTHORISED, psu_id_of("bob"))


async def test_an_acr_below_the_required_one_signs_nobody_in_to_the_dashboard(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    back = await open_dashboard_at_bank(gateway, browser, idp, username="alice", acr=ACR_CA)
    assert_refused(back, 403, "access_denied")
    # Still signed out: the dashboard offers the sign-in at the bank again, with a new state.
    again = await start_at_bank(gateway)
    assert again.headers["location"].startswith(idp.issuer + "/")


async def test_a_replayed_dashboard_answer_is_refused_even_with_the_earlier_cookie(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    start = await start_at_bank(gateway)
    cookie_before = dict(gateway.cookies)
    back = await at_the_bank(browser, idp, start.headers["location"], account=psu_id_of("alice"))
    first = await gateway.get(back)
    assert first.status_code == 303 and first.headers["location"] == "/consents", first.text
    gateway.cookies.clear()
    for name, value in cookie_before.items():
        gateway.cookies.set(name, value, domain="bank.example")
    assert_refused(await gateway.get(back), 403, "already used: open your consents again")
    # The replay signed nobody in.
    assert 'action="/consents/bank-sign-in"' in (await gateway.get("/consents")).text


async def test_the_dashboard_password_form_is_refused_in_production(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    await authorised_by(gateway, db, idp, "alice")
    response = await gateway.post("/consents/login", data={"username": "alice", "password": "alice-wonderland"})
    assert_refused(response, 400, "sign in at the bank")
    assert "__Host-obgw_psu=" not in response.headers.get("set-cookie", "")
    assert 'action="/consents/bank-sign-in"' in (await gateway.get("/consents")).text


async def test_starting_the_bank_sign_in_without_the_forms_token_is_refused(gateway, db, idp) -> None:  # type: ignore[no-untyped-def]
    await gateway.get("/consents")
    assert_refused(await gateway.post("/consents/bank-sign-in", data={}), 403, "security token")
    assert_refused(await gateway.post("/consents/bank-sign-in", data={"csrf": "forged"}), 403, "security token")


async def test_signing_out_shows_the_sign_in_page_instead_of_signing_in_again_at_the_bank(gateway, db, idp, browser) -> None:  # type: ignore[no-untyped-def]
    back = await open_dashboard_at_bank(gateway, browser, idp, username="alice")
    page = await gateway.get(back.headers["location"])
    assert 'action="/consents/logout"' in page.text, page.text
    out = await gateway.post("/consents/logout", data={"csrf": hidden_field(page.text, "csrf")})
    assert out.status_code == 303 and out.headers["location"] == "/consents"
    after = await gateway.get("/consents")
    assert after.status_code == 200 and 'action="/consents/bank-sign-in"' in after.text
