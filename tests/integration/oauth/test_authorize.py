"""The authorization endpoint (FAPI 2.0: PAR only, RFC 9126 section 4) and the bank's customer pages:
sign in, approve or deny, the redirect with ``iss`` (RFC 9207), CSRF protection and page headers."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from gateway.store.db import utcnow
from gateway.store.oauth_tables import PushedRequest
from gateway.store.oauth_tables import secret_hash
from tests.helpers.bank import sandbox_transports
from tests.helpers.consents import intent_claims
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import ISSUER
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import hidden_field
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.helpers.oauth import query_of
from tests.helpers.oauth import sign_in
from tests.helpers.oauth import sign_in_and_decide

PREFIX = "urn:ietf:params:oauth:request_uri:"


async def pushed(client: httpx.AsyncClient, fapi: FapiClient, **extra: object) -> tuple[str, dict[str, object]]:
    _, challenge = pkce_pair()
    params = fapi.authorization_params(challenge=challenge, **extra)
    response = await fapi.push(client, params)
    assert response.status_code == 201, response.text
    return response.json()["request_uri"], params


async def open_authorize(client: httpx.AsyncClient, fapi: FapiClient, request_uri: str) -> httpx.Response:
    return await client.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri})


def assert_error_page(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert error in response.text


async def test_approve_redirects_with_code_state_and_iss(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, params = await pushed(client, fapi)
    final = await sign_in_and_decide(client, fapi, request_uri)
    assert final.status_code == 303
    location = final.headers["location"]
    assert location.startswith(fapi.redirect_uri + "?")
    query = query_of(location)
    assert query["code"]
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER


async def test_deny_redirects_with_access_denied(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, params = await pushed(client, fapi)
    final = await sign_in_and_decide(client, fapi, request_uri, decision="deny")
    assert final.status_code == 303
    query = query_of(final.headers["location"])
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    assert "code" not in query


async def test_sign_in_page_is_accessible_and_locked_down(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    assert page.status_code == 200
    assert '<label class="field" for="username">Username</label>' in page.text
    assert '<label class="field" for="password">Password</label>' in page.text
    assert ">Sign in</button>" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self' https://tpp.example.com" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_approve_page_shows_who_asks_for_what_in_plain_words(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, client_name="Budget Buddy")
    consent_id = await lodge_account_access(db, fapi.client_id)
    request_uri, _ = await pushed(client, fapi, scope="openid accounts", claims=intent_claims(consent_id))
    page = await open_authorize(client, fapi, request_uri)
    signed_in = await sign_in(client, fapi, request_uri, page)
    assert signed_in.status_code == 303
    approve = await client.get(signed_in.headers["location"])
    assert approve.status_code == 200
    assert "Budget Buddy" in approve.text
    assert "Your account details" in approve.text and "Your balances" in approve.text
    assert ">Approve</button>" in approve.text and ">Deny</button>" in approve.text


async def test_wrong_password_shows_the_sign_in_page_again(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    response = await sign_in(client, fapi, request_uri, page, password="not-the-password")
    assert response.status_code == 401
    assert "not right" in response.text
    assert ">Sign in</button>" in response.text


async def test_the_sixth_failed_sign_in_is_refused_even_with_the_right_password(client, db) -> None:  # type: ignore[no-untyped-def]
    # policies/rate-limits.yaml sign_in.per_username: 5 failures in 15 minutes.
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    form = {"csrf": hidden_field(page.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
            "username": PSU_USERNAME}
    for _ in range(5):
        assert (await client.post("/login", data={**form, "password": "not-the-password"})).status_code == 401
    refused = await client.post("/login", data={**form, "password": PSU_PASSWORD})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert "Too many sign-in attempts. Try again in 15 minutes." in refused.text
    assert "not right" not in refused.text


async def test_authorize_with_plain_parameters_is_refused_without_redirect(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    response = await client.get("/authorize", params=fapi.authorization_params(challenge=challenge))
    assert_error_page(response, 400, "invalid_request")


async def test_authorize_with_request_uri_and_extra_parameters_is_refused(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    response = await client.get("/authorize", params={"client_id": fapi.client_id, "request_uri": request_uri,
                                                      "scope": "openid payments"})
    assert_error_page(response, 400, "invalid_request")


async def test_unknown_request_uri_is_invalid_request_uri(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await open_authorize(client, fapi, PREFIX + "x" * 43)
    assert_error_page(response, 400, "invalid_request_uri")


async def test_request_uri_of_another_client_is_invalid_request_uri(client, db) -> None:  # type: ignore[no-untyped-def]
    owner = await insert_client(db)
    other = await insert_client(db)
    request_uri, _ = await pushed(client, owner)
    response = await open_authorize(client, other, request_uri)
    assert_error_page(response, 400, "invalid_request_uri")


async def test_expired_request_uri_is_invalid_request_uri(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    async with db.session() as session:
        await session.execute(update(PushedRequest)
                              .where(PushedRequest.handle_hash == secret_hash(request_uri[len(PREFIX):]))  # type: ignore[arg-type]
                              .values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    response = await open_authorize(client, fapi, request_uri)
    assert_error_page(response, 400, "invalid_request_uri")


async def test_request_uri_is_single_use(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    assert (await sign_in_and_decide(client, fapi, request_uri)).status_code == 303
    again = await open_authorize(client, fapi, request_uri)
    assert_error_page(again, 400, "invalid_request_uri")


async def test_second_decision_on_the_same_request_is_refused(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    signed_in = await sign_in(client, fapi, request_uri, page)
    approve = await client.get(signed_in.headers["location"])
    form = {"csrf": hidden_field(approve.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri}
    first = await client.post("/authorize/decision", data={**form, "decision": "approve"})
    assert first.status_code == 303
    second = await client.post("/authorize/decision", data={**form, "decision": "approve"})
    assert_error_page(second, 400, "invalid_request_uri")


async def test_sign_in_without_csrf_token_is_403(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    await open_authorize(client, fapi, request_uri)
    response = await client.post("/login", data={
        "client_id": fapi.client_id, "request_uri": request_uri, "username": PSU_USERNAME, "password": PSU_PASSWORD})
    assert_error_page(response, 403, "access_denied")


async def test_decision_with_wrong_csrf_token_is_403(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    signed_in = await sign_in(client, fapi, request_uri, page)
    assert signed_in.status_code == 303
    response = await client.post("/authorize/decision", data={
        "csrf": "forged", "client_id": fapi.client_id, "request_uri": request_uri, "decision": "approve"})
    assert_error_page(response, 403, "access_denied")


async def test_pre_sign_in_csrf_token_is_worthless_after_sign_in(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    old_csrf = hidden_field(page.text, "csrf")
    await client.post("/login", data={"csrf": old_csrf, "client_id": fapi.client_id, "request_uri": request_uri,
                                      "username": PSU_USERNAME, "password": PSU_PASSWORD})
    response = await client.post("/authorize/decision", data={
        "csrf": old_csrf, "client_id": fapi.client_id, "request_uri": request_uri, "decision": "approve"})
    assert_error_page(response, 403, "access_denied")


async def test_decision_on_a_request_this_browser_never_opened_is_refused(client, db, gateway_app) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    victim_uri, _ = await pushed(client, fapi)
    await open_authorize(client, fapi, victim_uri)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url=ISSUER) as attacker:
        # The attacker signs in for a request of their own, so holds a valid session and CSRF token ...
        own_uri, _ = await pushed(attacker, fapi)
        page = await open_authorize(attacker, fapi, own_uri)
        signed_in = await sign_in(attacker, fapi, own_uri, page)
        approve = await attacker.get(signed_in.headers["location"])
        # ... but cannot decide the victim's request, which their browser never presented at /authorize.
        response = await attacker.post("/authorize/decision", data={
            "csrf": hidden_field(approve.text, "csrf"), "client_id": fapi.client_id, "request_uri": victim_uri,
            "decision": "approve"})
        assert_error_page(response, 400, "invalid_request_uri")
    # The victim's request is still intact.
    assert (await sign_in_and_decide(client, fapi, victim_uri)).status_code == 303


async def test_headless_approval_returns_the_browser_redirect(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, params = await pushed(client, fapi)
    response = await client.post("/sandbox/headless-authorize", data={
        "client_id": fapi.client_id, "request_uri": request_uri, "username": PSU_USERNAME,
        "password": PSU_PASSWORD, "decision": "approve"})
    assert response.status_code == 200, response.text
    query = query_of(response.json()["redirect_to"])
    assert query["code"] and query["state"] == params["state"] and query["iss"] == ISSUER
    again = await client.post("/sandbox/headless-authorize", data={
        "client_id": fapi.client_id, "request_uri": request_uri, "username": PSU_USERNAME,
        "password": PSU_PASSWORD, "decision": "approve"})
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request_uri"


async def test_headless_approval_with_wrong_password_is_access_denied(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    response = await client.post("/sandbox/headless-authorize", data={
        "client_id": fapi.client_id, "request_uri": request_uri, "username": PSU_USERNAME,
        "password": "wrong", "decision": "approve"})
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


async def test_headless_approval_is_throttled_after_five_wrong_passwords(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    form = {"client_id": fapi.client_id, "request_uri": request_uri, "username": PSU_USERNAME, "decision": "approve"}
    for _ in range(5):
        wrong = await client.post("/sandbox/headless-authorize", data={**form, "password": "wrong"})
        assert wrong.status_code == 403
    refused = await client.post("/sandbox/headless-authorize", data={**form, "password": PSU_PASSWORD})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60


async def test_headless_approval_is_404_when_disabled(settings, gateway_keys, sandbox_app) -> None:  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    from gateway.app import create_app

    app = create_app(settings.replace(headless_approval=False), keys=gateway_keys,
                     **sandbox_transports(sandbox_app), create_schema=True)
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=ISSUER) as http:
            response = await http.post("/sandbox/headless-authorize", data={"decision": "approve"})
    assert response.status_code == 404


async def test_tampered_session_cookie_is_not_a_session(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    request_uri, _ = await pushed(client, fapi)
    page = await open_authorize(client, fapi, request_uri)
    signed_in = await sign_in(client, fapi, request_uri, page)
    approve = await client.get(signed_in.headers["location"])
    value = client.cookies.get("obgw_psu")
    body, _, mac = value.partition(".")
    client.cookies.set("obgw_psu", body + "." + ("A" if mac[0] != "A" else "B") + mac[1:], domain="127.0.0.1")
    response = await client.post("/authorize/decision", data={
        "csrf": hidden_field(approve.text, "csrf"), "client_id": fapi.client_id, "request_uri": request_uri,
        "decision": "approve"})
    assert_error_page(response, 403, "access_denied")


async def test_session_cookie_is_secure_and_host_prefixed_on_an_https_issuer(settings, gateway_keys, sandbox_app) -> None:  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    from gateway.app import create_app
    from gateway.store.db import Database

    https = "https://bank.example"
    app = create_app(settings.replace(issuer=https), keys=gateway_keys,
                     **sandbox_transports(sandbox_app), create_schema=True)
    async with LifespanManager(app) as manager:
        database = Database(settings.database_url)
        fapi = await insert_client(database)
        await database.dispose()
        fapi.issuer = https
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=https) as http:
            request_uri, _ = await pushed(http, fapi)
            page = await open_authorize(http, fapi, request_uri)
    assert page.status_code == 200, page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-obgw_psu=")
    assert "secure" in cookie.lower() and "httponly" in cookie.lower() and "path=/" in cookie.lower()


async def test_a_hostile_client_name_is_shown_escaped_on_the_sign_in_and_consent_pages(client, db) -> None:  # type: ignore[no-untyped-def]
    hostile = "<script>alert(\"x\")</script>' onmouseover='x"
    fapi = await insert_client(db, client_name=hostile)
    consent_id = await lodge_account_access(db, fapi.client_id)
    request_uri, _ = await pushed(client, fapi, scope="openid accounts", claims=intent_claims(consent_id))
    page = await open_authorize(client, fapi, request_uri)
    signed_in = await sign_in(client, fapi, request_uri, page)
    approve = await client.get(signed_in.headers["location"])
    for shown in (page.text, approve.text):
        assert "<script>alert" not in shown and "' onmouseover='" not in shown
        assert "&lt;script&gt;" in shown
