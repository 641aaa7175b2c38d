"""Re-authenticating a consent in a real browser (docs/obie-notes.md section 3.1): the TPP pushes a request naming
the customer's Authorised consent; the customer, still signed in at the bank, confirms it again; the dashboard's
"Last confirmed again" appears, the TPP's old refresh token is dead and its new tokens work. Another customer
signing in is refused before seeing anything of the consent."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.test_consent_journeys import REDIRECT_URI
from tests.browser.test_consent_journeys import TPP_HOST
from tests.browser.test_consent_journeys import Tpp
from tests.browser.test_consent_journeys import grant
from tests.browser.test_consent_journeys import intercept_redirect
from tests.browser.test_consent_journeys import tpp  # noqa: F401  (the module's registered TPP)
from tests.helpers.oauth import query_of


def test_the_customer_confirms_the_consent_again_and_the_dashboard_shows_it(tpp: Tpp, browser_page: Any) -> None:  # noqa: F811
    page = browser_page
    consent_id, first = grant(tpp, page)
    page.goto(f"{tpp.url}/consents")
    card = page.locator(f"article:has-text('{consent_id}')")
    assert "Last confirmed again" not in card.inner_text()

    request_uri, verifier = tpp.push(consent_id)
    seen = intercept_redirect(page)
    page.goto(tpp.authorize_url(request_uri))  # still signed in at the bank: straight to the confirmation
    page.get_by_role("heading", name=re.compile("Confirm the access you gave Budget Buddy")).wait_for()
    assert "Rainy day savings" in page.content()
    assert page.get_by_role("checkbox").count() == 0  # the same accounts, no new choice
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"https://{TPP_HOST}/**")
    second = tpp.token({"grant_type": "authorization_code", "code": query_of(seen[-1])["code"],
                        "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert second.status_code == 200, second.text
    assert tpp.introspect(second.json()["access_token"])["openbanking_intent_id"] == consent_id
    old = tpp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"

    page.goto(f"{tpp.url}/consents")
    card = page.locator(f"article:has-text('{consent_id}')")
    assert "Last confirmed again" in card.inner_text()


def test_another_customer_is_refused_the_confirmation(tpp: Tpp, browser_page: Any) -> None:  # noqa: F811
    page = browser_page
    consent_id, first = grant(tpp, page)  # alice's
    page.context.clear_cookies()
    request_uri, _ = tpp.push(consent_id)
    page.goto(tpp.authorize_url(request_uri))
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("bob-builder")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("another customer").wait_for()
    assert page.get_by_role("button", name="Confirm").count() == 0
    assert tpp.introspect(first["access_token"])["active"] is True
