"""Re-authentication of a long-lived consent (docs/obie-notes.md section 3.1; issue "Long-lived consents"): a
pushed request naming an Authorised account-access consent leads its customer to confirm it again; the consent
keeps its id, accounts and history, records when, and gets new tokens while the earlier ones die. Nobody but the
customer it is bound to can do it. Refresh tokens live as long as the consent (docs/obie-notes.md section 10)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import jwt

from consent.models import Consent
from consent.models import ConsentEvent
from tests.helpers.oauth import sign_in
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import authorised_consent
from tests.integration.consent_pages.conftest import consent_page
from tests.integration.consent_pages.conftest import decide
from tests.integration.consent_pages.conftest import intent_claims
from tests.integration.consent_pages.conftest import load_consent
from tests.integration.consent_pages.conftest import lodge_account_access
from tests.integration.consent_pages.conftest import lodge_payment
from tests.integration.consent_pages.conftest import push
from tests.integration.consent_pages.conftest import redeem
from tests.integration.consent_pages.test_dashboard import introspect
from tests.integration.consent_pages.test_dashboard import sign_in as dashboard_sign_in

REFRESH_EXPIRY = "http://openbanking.org.uk/refresh_token_expires_at"


async def _events(db, consent_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlmodel import col
    from sqlmodel import select

    async with db.session() as session:
        rows = (await session.exec(select(ConsentEvent).where(col(ConsentEvent.consent_id) == consent_id)
                                   .order_by(col(ConsentEvent.seq)))).all()
    return [r.event for r in rows]


async def test_the_customer_confirms_again_and_the_consent_keeps_its_id_with_new_tokens(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    chosen = account_ids("alice")[:2]
    consent_id, first = await authorised_consent(client, db, tpp, accounts=chosen)
    request_uri, verifier = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    assert "Confirm the access you gave" in page.text
    assert 'name="account_id"' not in page.text  # the accounts it shares, no new choice
    assert "Accounts shared:" in page.text
    final = await decide(client, tpp, request_uri, page)
    assert final.status_code == 303 and "code=" in final.headers["location"], final.text
    second = await redeem(client, tpp, final.headers["location"], verifier)
    assert second.status_code == 200, second.text

    consent, accounts = await load_consent(db, consent_id)
    assert consent.status == "Authorised" and sorted(accounts) == sorted(chosen)
    assert consent.reauthorised_at is not None
    assert await _events(db, consent_id) == ["created", "authorised", "reauthorised"]
    # The new tokens work; the earlier access and refresh tokens are dead.
    assert (await introspect(client, tpp, second.json()["access_token"]))["active"] is True
    assert await introspect(client, tpp, first["access_token"]) == {"active": False}
    refreshed = await tpp.token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    dashboard = await dashboard_sign_in(client)
    assert "Last confirmed again" in dashboard.text


async def test_another_customer_cannot_reauthorise_it(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, first = await authorised_consent(client, db, tpp)  # alice's
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    client.cookies.clear()
    page = await client.get("/authorize", params={"client_id": tpp.client_id, "request_uri": request_uri})
    signed_in = await sign_in(client, tpp, request_uri, page, username="bob", password="bob-builder")
    assert signed_in.status_code == 303
    refused = await client.get(signed_in.headers["location"])
    assert refused.status_code == 403 and "another customer" in refused.text
    assert "Confirm the access" not in refused.text
    # Posting the decision anyway, with bob's valid session and CSRF token (his dashboard has it), is refused too.
    dashboard = await client.get("/consents")
    forced = await decide(client, tpp, request_uri, dashboard)
    assert forced.status_code == 403 and "another customer" in forced.text
    consent, _ = await load_consent(db, consent_id)
    assert consent.reauthorised_at is None
    assert (await introspect(client, tpp, first["access_token"]))["active"] is True


async def test_deny_leaves_the_consent_and_its_tokens_as_they_were(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, first = await authorised_consent(client, db, tpp)
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    final = await decide(client, tpp, request_uri, page, decision="deny")
    assert final.status_code == 303 and "access_denied" in final.headers["location"]
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "Authorised" and consent.reauthorised_at is None
    assert (await introspect(client, tpp, first["access_token"]))["active"] is True


async def test_an_authorised_payment_consent_takes_no_new_authorisation(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_payment(db, tpp.client_id)
    request_uri, _ = await push(client, tpp, scope="openid payments", claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    assert (await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:1])).status_code == 303
    refused = await tpp.push(client, tpp.authorization_params(challenge="x" * 43, scope="openid payments",
                                                              claims=intent_claims(consent_id)))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"


async def test_the_refresh_token_lives_as_long_as_the_consent(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    ends = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)
    consent_id = await lodge_account_access(db, tpp.client_id, expires=ends)
    request_uri, verifier = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    final = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:1])
    issued = (await redeem(client, tpp, final.headers["location"], verifier)).json()
    claims = jwt.decode(issued["id_token"], options={"verify_signature": False})
    # Not 90 days: the consent's ExpirationDateTime, 400 days away.
    assert claims[REFRESH_EXPIRY] == int(ends.timestamp())
    assert (await introspect(client, tpp, issued["refresh_token"]))["exp"] == int(ends.timestamp())


async def test_a_refresh_token_of_a_consent_without_an_end_does_not_expire(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id = await lodge_account_access(db, tpp.client_id)
    async with db.session() as session:  # an account-access consent without ExpirationDateTime
        consent = await session.get(Consent, consent_id)
        consent.expires_at = None
        consent.data = {k: v for k, v in consent.data.items() if k != "ExpirationDateTime"}
        session.add(consent)
        await session.commit()
    request_uri, verifier = await push(client, tpp, claims=intent_claims(consent_id))
    page = await consent_page(client, tpp, request_uri)
    final = await decide(client, tpp, request_uri, page, accounts=account_ids("alice")[:1])
    issued = (await redeem(client, tpp, final.headers["location"], verifier)).json()
    claims = jwt.decode(issued["id_token"], options={"verify_signature": False})
    # docs/obie-notes.md section 10: omit the claim for a non-expiring refresh token.
    assert REFRESH_EXPIRY not in claims
    refreshed = await tpp.token(client, {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


async def test_the_sandbox_headless_route_refuses_another_customer_too(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp)  # alice's
    request_uri, _ = await push(client, tpp, claims=intent_claims(consent_id))
    refused = await client.post("/sandbox/headless-authorize", data={
        "client_id": tpp.client_id, "request_uri": request_uri, "username": "bob", "password": "bob-builder",
        "decision": "approve"})
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    consent, _ = await load_consent(db, consent_id)
    assert consent.reauthorised_at is None
