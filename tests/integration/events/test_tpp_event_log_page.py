"""The TPP developer's event log page (gateway/hosting/tpp_event_log_page.py; docs/architecture.md section 7):
a developer signs in with a client assertion of its client's key, sees that client's events with every delivery
attempt, and replays one event or a time range (the same jti goes out again); a form without its CSRF token,
another developer, a used or forged assertion and a bad range are refused and change nothing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import httpx

from gateway.hosting import tpp_event_log_page
from gateway.oauth import operators
from gateway.security import jose
from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.integration.consent.conftest import Tpp
from tests.integration.events.conftest import Receiver
from tests.integration.events.conftest import verified
from tests.integration.events.test_tpp_event_log import delivered_event

PAGE = "/sandbox/v1/event-log"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def signed_in(browser: httpx.AsyncClient, tpp: Tpp) -> str:
    """Sign the browser in as ``tpp``'s client; returns the CSRF token of the signed-in page."""
    form = await browser.get(PAGE)
    assert form.status_code == 200 and "Sign in as your client" in form.text
    page = await browser.post(f"{PAGE}/sign-in", data={"csrf_token": csrf_of(form.text),
                                                       "client_assertion": tpp.fapi.assertion()})
    assert page.status_code == 200, page.text
    assert f'<code id="client-id">{tpp.fapi.client_id}</code>' in page.text
    return csrf_of(page.text)


async def sent_jti(client, receiver: Receiver, tpp: Tpp) -> str:  # type: ignore[no-untyped-def]
    return str((await verified(client, receiver.received[-1]["body"], audience=tpp.fapi.client_id))["jti"])


def browser_on(gateway_app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url=ISSUER)


async def test_the_page_lists_the_signed_in_tpps_events_with_their_attempts(  # type: ignore[no-untyped-def]
        worker, client, db, tpp: Tpp, receiver: Receiver) -> None:
    consent_id = await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    await signed_in(client, tpp)
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    html = page.text
    assert f'<code class="jti">{jti}</code>' in html and consent_id in html
    assert "urn:uk:org:openbanking:events:consent-authorization-revoked" in html
    assert '<td class="state">delivered</td>' in html
    [row] = re.findall(r'<tr class="attempt">(.*?)</tr>', html)
    assert f"<code>{receiver.url}/event-notifications</code>" in row and "<td>delivered</td><td>202</td>" in row
    assert re.search(r'<td class="latency">\d+</td>', row)
    assert f"<code>{receiver.url}</code>" in html  # the subscription's callback


async def test_replay_of_one_event_re_sends_the_same_jti(worker, client, db, tpp: Tpp,  # type: ignore[no-untyped-def]
                                                         receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    csrf = await signed_in(client, tpp)
    answer = await client.post(f"{PAGE}/replay", data={"csrf_token": csrf, "jti": jti})
    assert answer.status_code == 200, answer.text
    assert re.findall(r'<code class="replayed">([^<]+)</code>', answer.text) == [jti]
    assert await worker.run_once() == 1
    assert len(receiver.received) == 2 and await sent_jti(client, receiver, tpp) == jti
    page = (await client.get(PAGE)).text
    assert "<td>yes</td>" in page  # the second attempt is logged as a replay


async def test_replay_of_a_time_range_re_sends_its_events(worker, client, db, tpp: Tpp,  # type: ignore[no-untyped-def]
                                                          receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    csrf = await signed_in(client, tpp)
    now = datetime.now(UTC)
    answer = await client.post(f"{PAGE}/replay", data={
        "csrf_token": csrf, "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat()})
    assert answer.status_code == 200, answer.text
    assert re.findall(r'<code class="replayed">([^<]+)</code>', answer.text) == [jti]
    assert await worker.run_once() == 1
    assert await sent_jti(client, receiver, tpp) == jti
    # A range before the event holds nothing of it: nothing is replayed.
    empty = await client.post(f"{PAGE}/replay", data={
        "csrf_token": csrf, "until": (now - timedelta(hours=1)).isoformat()})
    assert empty.status_code == 200 and "nothing replayed" in empty.text
    assert await worker.run_once() == 0


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(  # type: ignore[no-untyped-def]
        worker, client, db, tpp: Tpp, receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    csrf = await signed_in(client, tpp)
    for sent in ({"jti": jti}, {"jti": jti, "csrf_token": "not-the-token"}, {"jti": jti, "csrf_token": csrf + "x"}):
        refused = await client.post(f"{PAGE}/replay", data=sent)
        assert refused.status_code == 403 and "security token" in refused.text
        assert 'class="replayed"' not in refused.text and 'role="status"' not in refused.text
    assert await worker.run_once() == 0
    # The sign-in form is checked too (login CSRF): without the token nobody is signed in.
    client.cookies.clear()
    await client.get(PAGE)
    refused = await client.post(f"{PAGE}/sign-in", data={"client_assertion": tpp.fapi.assertion()})
    assert refused.status_code == 403 and "Sign in as your client" in refused.text


async def test_another_developer_sees_and_replays_nothing_of_the_tpps_events(  # type: ignore[no-untyped-def]
        worker, client, gateway_app, db, tpp: Tpp, other_tpp: Tpp, receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    async with browser_on(gateway_app) as other:
        csrf = await signed_in(other, other_tpp)
        page = await other.get(PAGE)
        assert jti not in page.text and "No events yet." in page.text
        refused = await other.post(f"{PAGE}/replay", data={"csrf_token": csrf, "jti": jti})
        assert refused.status_code == 400 and "UK.OBIE.Resource.NotFound" in refused.text
        ranged = await other.post(f"{PAGE}/replay", data={"csrf_token": csrf, "since": "2000-01-01T00:00:00+00:00"})
        assert ranged.status_code == 200 and "nothing replayed" in ranged.text
    assert await worker.run_once() == 0  # nothing of the TPP's was made due again


async def test_a_bad_range_gets_a_clear_error_and_changes_nothing(worker, client, db, tpp: Tpp,  # type: ignore[no-untyped-def]
                                                                  receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    csrf = await signed_in(client, tpp)
    cases = (
        ({"since": "2026-02-01T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
         "UK.OBIE.Field.Invalid", "since must not be after until"),
        ({"since": "2026-01-01T00:00:00"}, "UK.OBIE.Field.InvalidDate", "since needs a time zone"),
        ({"until": "yesterday"}, "UK.OBIE.Field.InvalidDate", "until must be an ISO 8601 date-time"),
        ({"jti": jti, "since": "2026-01-01T00:00:00+00:00"}, "UK.OBIE.Field.Invalid", "not both"),
        ({}, "UK.OBIE.Field.Invalid", "send the jti of one event, or since and until"),
    )
    for fields, code, words in cases:
        answer = await client.post(f"{PAGE}/replay", data={"csrf_token": csrf, **fields})
        assert answer.status_code == 400, fields
        assert f"<strong>{code}</strong>" in answer.text and words in answer.text, answer.text
    assert await worker.run_once() == 0
    assert '<td class="state">delivered</td>' in (await client.get(PAGE)).text


async def test_sign_in_refuses_a_used_or_forged_assertion(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    form = await client.get(PAGE)
    csrf = csrf_of(form.text)
    used = tpp.fapi.assertion()
    assert (await client.post(f"{PAGE}/sign-in", data={"csrf_token": csrf, "client_assertion": used})).status_code == 200
    client.cookies.clear()
    csrf = csrf_of((await client.get(PAGE)).text)
    again = await client.post(f"{PAGE}/sign-in", data={"csrf_token": csrf, "client_assertion": used})
    assert again.status_code == 401 and "jti already used" in again.text and 'id="client-id"' not in again.text
    # Naming this client, signed with a key it never registered (same kid): the signature does not verify.
    alg = "PS256" if tpp.fapi.key["kty"] == "RSA" else "ES256"
    stranger = dict(jose.generate_key(alg=alg), kid=tpp.fapi.key["kid"])
    forged = replace(tpp.fapi, key=stranger).assertion()
    refused = await client.post(f"{PAGE}/sign-in", data={"csrf_token": csrf, "client_assertion": forged})
    assert refused.status_code == 401 and "client_assertion rejected" in refused.text
    assert 'id="client-id"' not in refused.text
    wrong_audience = tpp.fapi.assertion(aud=f"{ISSUER}/token")
    refused = await client.post(f"{PAGE}/sign-in", data={"csrf_token": csrf, "client_assertion": wrong_audience})
    assert refused.status_code == 401 and "invalid_client" in refused.text


async def test_without_signing_in_nothing_is_replayed(worker, client, db, tpp: Tpp,  # type: ignore[no-untyped-def]
                                                      receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    csrf = csrf_of((await client.get(PAGE)).text)
    refused = await client.post(f"{PAGE}/replay", data={"csrf_token": csrf, "jti": jti})
    assert refused.status_code == 403 and "sign in" in refused.text
    assert await worker.run_once() == 0


def test_production_mounts_no_page() -> None:
    assert tpp_event_log_page.routes(Settings(mode="production")) == []
    assert [route.path for route in tpp_event_log_page.routes(Settings())] == [  # type: ignore[attr-defined]
        PAGE, f"{PAGE}/sign-in", f"{PAGE}/replay", f"{PAGE}/sign-out"]


async def test_a_client_suspended_after_sign_in_is_signed_out(worker, client, db, tpp: Tpp,  # type: ignore[no-untyped-def]
                                                              receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = await sent_jti(client, receiver, tpp)
    csrf = await signed_in(client, tpp)
    await operators.set_client_status(db=db, client_id=tpp.fapi.client_id, status="suspended")
    page = await client.get(PAGE)
    assert "Sign in as your client" in page.text and jti not in page.text
    refused = await client.post(f"{PAGE}/replay", data={"csrf_token": csrf_of(page.text), "jti": jti})
    assert refused.status_code == 403 and "sign in" in refused.text
    assert csrf_of(page.text) == csrf  # the same browser session, only signed out
    assert await worker.run_once() == 0
