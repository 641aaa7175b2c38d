"""The customer's consent dashboard (docs/architecture.md section 1, journey 6): sign in, every consent by TPP, revoke
one or all of a TPP's after a confirmation step (tokens inactive at once, RFC 7662), JSON export, CSRF."""

from __future__ import annotations

from sqlmodel import select

from consent.audit import verify_chain
from consent.models import Consent
from consent.models import ConsentEvent
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import insert_client
from tests.integration.consent_pages.conftest import ALL_SCOPES
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import alice_psu_id
from tests.integration.consent_pages.conftest import authorised_consent
from tests.integration.consent_pages.conftest import load_consent
from tests.integration.consent_pages.conftest import past


async def sign_in(client, username: str = PSU_USERNAME, password: str = PSU_PASSWORD):  # type: ignore[no-untyped-def]
    """Sign in on the dashboard; the bank session of the authorisation pages is dropped first, so the sign-in
    form is what the customer sees."""
    client.cookies.clear()
    page = await client.get("/consents")
    assert page.status_code == 200 and 'action="/consents/login"' in page.text
    signed_in = await client.post("/consents/login", data={
        "csrf": hidden_field(page.text, "csrf"), "username": username, "password": password})
    assert signed_in.status_code == 303, signed_in.text
    dashboard = await client.get("/consents")
    assert dashboard.status_code == 200
    return dashboard


async def introspect(client, fapi, token: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = await client.post("/introspect", data={"token": token, **fapi.auth()})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_the_bank_session_of_the_consent_page_also_opens_the_dashboard(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp)
    dashboard = await client.get("/consents")
    assert dashboard.status_code == 200 and consent_id in dashboard.text


async def test_dashboard_asks_to_sign_in_first(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/consents")
    assert page.status_code == 200
    assert '<label class="field" for="username">Username</label>' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "samesite=lax" in page.headers["set-cookie"].lower()


async def test_wrong_password_shows_the_sign_in_page_again(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/consents")
    refused = await client.post("/consents/login", data={
        "csrf": hidden_field(page.text, "csrf"), "username": PSU_USERNAME, "password": "wrong"})
    assert refused.status_code == 401 and "The username or password is not right." in refused.text


async def test_sign_in_without_csrf_is_403(client) -> None:  # type: ignore[no-untyped-def]
    await client.get("/consents")
    refused = await client.post("/consents/login", data={"username": PSU_USERNAME, "password": PSU_PASSWORD})
    assert refused.status_code == 403


async def test_the_sandbox_has_no_bank_identity_provider_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/consents")
    refused = await client.post("/consents/bank-sign-in", data={"csrf": hidden_field(page.text, "csrf")})
    assert refused.status_code == 404 and "location" not in refused.headers


async def test_dashboard_lists_consents_by_tpp_with_permissions_accounts_and_dates(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp, accounts=account_ids("alice")[1:2])
    dashboard = await sign_in(client)
    html = dashboard.text
    assert "<h2" in html and "Budget Buddy</h2>" in html
    assert consent_id in html
    assert "Your transactions from 1 March 2026 to 31 May 2026" in html
    assert "Rainy day savings" in html  # the chosen account, by name
    assert "Until</th><td>12 December 2030" in html
    assert f'href="/consents/{consent_id}/revoke"' in html


async def test_expired_consent_is_shown_as_expired(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp)
    async with db.session() as session:
        row = await session.get(Consent, consent_id)
        row.expires_at = past(1)
        session.add(row)
        await session.commit()
    html = (await sign_in(client)).text
    assert '<span class="status">Expired</span>' in html
    assert f'href="/consents/{consent_id}/revoke"' not in html


async def test_revoke_after_confirmation_revokes_the_consent_and_its_tokens(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, issued = await authorised_consent(client, db, tpp)
    assert (await introspect(client, tpp, issued["access_token"]))["active"] is True
    await sign_in(client)
    confirm = await client.get(f"/consents/{consent_id}/revoke")
    assert confirm.status_code == 200
    assert '<button type="submit">Revoke</button>' in confirm.text
    done = await client.post(f"/consents/{consent_id}/revoke", data={"csrf": hidden_field(confirm.text, "csrf")})
    assert done.status_code == 303 and done.headers["location"] == "/consents"
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "Revoked"
    assert await introspect(client, tpp, issued["access_token"]) == {"active": False}
    assert await introspect(client, tpp, issued["refresh_token"]) == {"active": False}
    refreshed = await tpp.token(client, {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    async with db.session() as session:
        events = (await session.exec(select(ConsentEvent).where(ConsentEvent.consent_id == consent_id))).all()
        assert [e.event for e in events][-1] == "revoked"
        assert events[-1].actor_id == alice_psu_id()
        assert (await verify_chain(session=session)).ok


async def test_revoke_without_csrf_is_403_and_changes_nothing(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, issued = await authorised_consent(client, db, tpp)
    await sign_in(client)
    refused = await client.post(f"/consents/{consent_id}/revoke", data={})
    assert refused.status_code == 403
    forged = await client.post(f"/consents/{consent_id}/revoke", data={"csrf": "forged"})
    assert forged.status_code == 403
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "Authorised"
    assert (await introspect(client, tpp, issued["access_token"]))["active"] is True


async def test_another_customers_consent_cannot_be_revoked(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp)  # alice's
    await sign_in(client, "bob", "bob-builder")
    confirm = await client.get(f"/consents/{consent_id}/revoke")
    assert confirm.status_code == 404
    page = await client.get("/consents")
    refused = await client.post(f"/consents/{consent_id}/revoke", data={"csrf": hidden_field(page.text, "csrf")})
    assert refused.status_code == 404
    consent, _ = await load_consent(db, consent_id)
    assert consent.status == "Authorised"


async def test_revoke_all_of_one_tpp_leaves_other_tpps_alone(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    other = await insert_client(db, scope=ALL_SCOPES, client_name="Other App")
    first, first_tokens = await authorised_consent(client, db, tpp)
    second, second_tokens = await authorised_consent(client, db, tpp)
    kept, kept_tokens = await authorised_consent(client, db, other)
    await sign_in(client)
    confirm = await client.get(f"/consents/tpp/{tpp.client_id}/revoke")
    assert confirm.status_code == 200 and "2 consents" in confirm.text
    done = await client.post(f"/consents/tpp/{tpp.client_id}/revoke",
                             data={"csrf": hidden_field(confirm.text, "csrf")})
    assert done.status_code == 303
    for consent_id, issued in ((first, first_tokens), (second, second_tokens)):
        assert (await load_consent(db, consent_id))[0].status == "Revoked"
        assert await introspect(client, tpp, issued["access_token"]) == {"active": False}
    assert (await load_consent(db, kept))[0].status == "Authorised"
    assert (await introspect(client, other, kept_tokens["access_token"]))["active"] is True


async def test_revoke_all_without_csrf_is_403(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp)
    await sign_in(client)
    refused = await client.post(f"/consents/tpp/{tpp.client_id}/revoke", data={})
    assert refused.status_code == 403
    assert (await load_consent(db, consent_id))[0].status == "Authorised"


async def test_export_is_the_customers_own_consent_history_as_json(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    mine, _ = await authorised_consent(client, db, tpp, accounts=account_ids("alice")[:2])
    await sign_in(client)
    exported = await client.get("/consents/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    assert "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert document["psu_id"] == alice_psu_id()
    [entry] = document["consents"]
    assert entry["consent_id"] == mine
    assert entry["client_name"] == "Budget Buddy"
    assert entry["status"] == "Authorised"
    assert sorted(entry["account_ids"]) == sorted(account_ids("alice")[:2])
    assert [h["event"] for h in entry["history"]] == ["created", "authorised"]


async def test_sign_out_ends_the_session(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    dashboard = await sign_in(client)
    assert (await client.post("/consents/logout", data={})).status_code == 403
    done = await client.post("/consents/logout", data={"csrf": hidden_field(dashboard.text, "csrf")})
    assert done.status_code == 303
    assert 'action="/consents/login"' in (await client.get("/consents")).text


async def test_export_and_revoke_need_a_signed_in_customer(client, db, tpp) -> None:  # type: ignore[no-untyped-def]
    consent_id, _ = await authorised_consent(client, db, tpp)
    client.cookies.clear()
    assert (await client.get("/consents/export")).status_code == 303
    assert (await client.get(f"/consents/{consent_id}/revoke")).status_code == 303
