"""Bank sign-in throttle (policies/rate-limits.yaml ``sign_in``, shipped defaults: 5 failures per username and 20
per address in 15 minutes): refused with 429, Retry-After and one text whether the username exists."""

from __future__ import annotations

import httpx

from gateway.security.sign_in_throttle import SignInThrottle
from tests.conftest import ISSUER
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import hidden_field


async def attempt(client, username: str, password: str):  # type: ignore[no-untyped-def]
    page = await client.get("/consents")
    return await client.post("/consents/login", data={
        "csrf": hidden_field(page.text, "csrf"), "username": username, "password": password})


async def test_the_sixth_failure_for_one_username_is_refused_even_with_the_right_password(client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert (await attempt(client, PSU_USERNAME, "wrong")).status_code == 401
    refused = await attempt(client, PSU_USERNAME, PSU_PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert "Too many sign-in attempts. Try again in 15 minutes." in refused.text


async def test_many_usernames_from_one_address_are_refused_after_twenty_failures(client) -> None:  # type: ignore[no-untyped-def]
    for index in range(20):
        assert (await attempt(client, f"nobody-{index}", "wrong")).status_code == 401
    refused = await attempt(client, PSU_USERNAME, PSU_PASSWORD)
    assert refused.status_code == 429 and "retry-after" in refused.headers


async def test_unknown_and_known_usernames_get_the_same_refusal_text(client) -> None:  # type: ignore[no-untyped-def]
    texts = {}
    for username in (PSU_USERNAME, "no-such-customer"):
        for _ in range(5):
            assert (await attempt(client, username, "wrong")).status_code == 401
        refused = await attempt(client, username, "wrong")
        assert refused.status_code == 429
        texts[username] = refused.text.replace(hidden_field(refused.text, "csrf"), "")
    assert texts[PSU_USERNAME] == texts["no-such-customer"]


async def test_when_the_attempt_counts_cannot_be_read_nobody_is_signed_in(gateway_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Fail closed: a throttle whose storage is down (Redis unreachable) lets no attempt through, right password
    # or not, rather than sign in without counting.
    async def storage_down(self: SignInThrottle, **_: str) -> None:
        raise ConnectionError("limits storage unreachable")

    monkeypatch.setattr(SignInThrottle, "check", storage_down)
    transport = httpx.ASGITransport(app=gateway_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        response = await attempt(client, PSU_USERNAME, PSU_PASSWORD)
        assert response.status_code >= 500
        assert "set-cookie" not in response.headers
        assert "Sign out" not in (await client.get("/consents")).text
