"""Event notifications end to end (issue "Done when"; docs/architecture.md section 7): a customer's revocation on
the dashboard reaches the TPP's callback as a signed Security Event Token, verified with pyjwt against the
gateway's JWKS; a failing callback is retried with back-off and shows in the delivery log; replay re-sends the
same jti; polling returns and acknowledges the same events."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from sqlmodel import select

from consent import service
from consent.notifications import EventNotification
from gateway.events import outbox
from gateway.oauth import operators
from gateway.settings import REPO_ROOT
from tests.helpers.consents import lodge_account_access
from tests.helpers.oauth import PSU_PASSWORD
from tests.helpers.oauth import PSU_USERNAME
from tests.helpers.oauth import hidden_field
from tests.integration.consent.conftest import Tpp
from tests.integration.consent_pages.conftest import account_ids
from tests.integration.consent_pages.conftest import alice_psu_id
from tests.integration.events.conftest import EVENTS
from tests.integration.events.conftest import Receiver
from tests.integration.events.conftest import subscribe
from tests.integration.events.conftest import verified

REVOKED = "urn:uk:org:openbanking:events:consent-authorization-revoked"
CALLBACK_DOCUMENT = Path(REPO_ROOT / "openapi/obie/event-notification/v3.1.11/event-notifications-openapi.yaml")


def subject_schema() -> dict[str, Any]:
    """The official ``OBEventSubject1`` (the callback document), its $refs resolved for the validator."""
    document = yaml.safe_load(CALLBACK_DOCUMENT.read_text())
    schemas = document["components"]["schemas"]
    subject = dict(schemas["OBEventSubject1"])
    subject["properties"] = {**subject["properties"], "http://openbanking.org.uk/rlk": {
        **subject["properties"]["http://openbanking.org.uk/rlk"], "items": schemas["OBEventLink1"]}}
    return subject


async def authorised_for_alice(db: Any, client_id: str) -> str:
    consent_id = await lodge_account_access(db, client_id)
    async with db.session() as session:
        await service.authorise(session=session, consent_id=consent_id, client_id=client_id, psu_id=alice_psu_id(),
                                account_ids=account_ids("alice")[:1], available_account_ids=account_ids("alice"),
                                now=datetime.now(UTC))
    return consent_id


async def revoke_on_dashboard(client: Any, consent_id: str) -> None:
    client.cookies.clear()
    page = await client.get("/consents")
    signed_in = await client.post("/consents/login", data={
        "csrf": hidden_field(page.text, "csrf"), "username": PSU_USERNAME, "password": PSU_PASSWORD})
    assert signed_in.status_code == 303, signed_in.text
    confirm = await client.get(f"/consents/{consent_id}/revoke")
    done = await client.post(f"/consents/{consent_id}/revoke", data={"csrf": hidden_field(confirm.text, "csrf")})
    assert done.status_code == 303, done.text


async def events_of(db: Any, client_id: str) -> list[EventNotification]:
    async with db.session() as session:
        rows = await session.exec(select(EventNotification).where(EventNotification.client_id == client_id)
                                  .order_by(EventNotification.seq))
        return list(rows.all())


@pytest.mark.parametrize("run_worker", [True])
async def test_a_dashboard_revocation_reaches_the_callback_as_a_signed_set_within_two_seconds(
    client, db, tpp: Tpp, receiver: Receiver, run_worker: bool  # type: ignore[no-untyped-def]
) -> None:
    await subscribe(tpp, receiver.url)
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)
    started = time.monotonic()
    await revoke_on_dashboard(client, consent_id)
    notification = await receiver.next(timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert notification["path"] == "/tpp/event-notifications"
    assert notification["headers"]["content-type"] == "application/jwt"
    assert notification["headers"]["x-fapi-financial-id"] == "obgw-sandbox-aspsp"
    claims = await verified(client, notification["body"], audience=tpp.fapi.client_id)
    url = f"http://127.0.0.1:8000/open-banking/v3.1/aisp/account-access-consents/{consent_id}"
    assert claims["sub"] == url
    (event,) = await events_of(db, tpp.fapi.client_id)
    assert claims["jti"] == event.jti and claims["toe"] == int(event.occurred_at.timestamp())
    assert list(claims["events"]) == [REVOKED]
    subject = claims["events"][REVOKED]["subject"]
    OAS30Validator(subject_schema()).validate(subject)
    assert subject["http://openbanking.org.uk/rid"] == consent_id
    assert subject["http://openbanking.org.uk/rty"] == "account-access-consent"
    assert subject["http://openbanking.org.uk/rlk"] == [{"version": "v3.1", "link": url}]


async def test_a_failing_callback_is_retried_with_back_off_then_failed_and_logged(
    worker, client, db, tpp: Tpp, receiver: Receiver  # type: ignore[no-untyped-def]
) -> None:
    receiver.statuses = [500, 503, 500]
    await subscribe(tpp, receiver.url)
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)
    await operators.revoke_consent(db=db, consent_id=consent_id)
    assert await worker.run_once() == 1
    (event,) = await events_of(db, tpp.fapi.client_id)
    assert (event.state, event.attempts) == ("pending", 1)
    first_wait = event.next_attempt_at - datetime.now(UTC)
    assert first_wait <= timedelta(milliseconds=200)  # OBGW_EVENT_RETRY_BASE_MS
    # Not due yet: the back-off holds it (the worker's clock held just before the retry is due, so a slow machine
    # cannot make it due meanwhile).
    held = event.next_attempt_at - timedelta(milliseconds=1)
    worker.clock = lambda: held
    assert await worker.run_once() == 0
    # Due again later: the test moves the worker's clock instead of waiting.
    due = event.next_attempt_at
    worker.clock = lambda: due
    assert await worker.run_once() == 1
    (event,) = await events_of(db, tpp.fapi.client_id)
    assert event.attempts == 2
    assert event.next_attempt_at - due >= timedelta(milliseconds=400)  # doubled, at the cap
    later = event.next_attempt_at
    worker.clock = lambda: later
    assert await worker.run_once() == 1
    (event,) = await events_of(db, tpp.fapi.client_id)
    assert (event.state, event.attempts, event.last_error) == ("failed", 3, "callback answered 500")
    assert await worker.run_once() == 0  # failed for good: no fourth attempt
    # The retries were signed on the worker's held clock, up to a second ahead of now.
    jtis = {(await verified(client, r["body"], audience=tpp.fapi.client_id, leeway=5))["jti"]
            for r in receiver.received}
    assert jtis == {event.jti} and len(receiver.received) == 3
    (entry,) = await outbox.delivery_log(db=db, client_id=tpp.fapi.client_id)
    assert entry["state"] == "failed"
    assert [(a["outcome"], a["status_code"]) for a in entry["log"]] == [("retry", 500), ("retry", 503),
                                                                        ("failed", 500)]
    assert all(a["latency_ms"] >= 0 and a["url"] == receiver.url + "/event-notifications" for a in entry["log"])


async def test_replay_re_sends_the_same_jti(worker, client, db, tpp: Tpp, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    await subscribe(tpp, receiver.url)
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)
    await operators.revoke_consent(db=db, consent_id=consent_id)
    assert await worker.run_once() == 1
    first = await verified(client, receiver.received[-1]["body"], audience=tpp.fapi.client_id)
    assert await worker.run_once() == 0  # delivered: nothing more to send
    assert await outbox.replay(db=db, now=datetime.now(UTC), client_id=tpp.fapi.client_id) == [first["jti"]]
    assert await worker.run_once() == 1
    again = await verified(client, receiver.received[-1]["body"], audience=tpp.fapi.client_id)
    assert len(receiver.received) == 2
    assert again["jti"] == first["jti"] and again["events"] == first["events"]
    (entry,) = await outbox.delivery_log(db=db, client_id=tpp.fapi.client_id)
    assert [(a["outcome"], a["replay"]) for a in entry["log"]] == [("delivered", False), ("delivered", True)]


async def test_events_of_one_tpp_are_pushed_in_order(worker, db, tpp: Tpp, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    await subscribe(tpp, receiver.url)
    consents = [await authorised_for_alice(db, tpp.fapi.client_id) for _ in range(3)]
    for consent_id in consents:
        await operators.revoke_consent(db=db, consent_id=consent_id)
    receiver.statuses = [500]  # the first fails once: the later ones wait for it
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    worker.clock = lambda: datetime.now(UTC).replace(year=2100)
    while await worker.run_once():
        pass
    rids = [r["body"] for r in receiver.received]
    subjects = [next(iter(jwt.decode(b, options={"verify_signature": False})["events"].values()))
                ["subject"]["http://openbanking.org.uk/rid"] for b in rids]
    assert subjects == [consents[0], *consents]


async def test_polling_returns_and_acknowledges_the_same_events(client, db, tpp: Tpp, other_tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    await subscribe(tpp, None)  # no callback: the TPP polls
    consents = [await authorised_for_alice(db, tpp.fapi.client_id) for _ in range(3)]
    for consent_id in consents:
        await operators.revoke_consent(db=db, consent_id=consent_id)
    first = await tpp.call("POST", EVENTS, body={"maxEvents": 2, "returnImmediately": True})
    assert first.status_code == 201, first.text
    assert first.json()["moreAvailable"] is True
    sets = first.json()["sets"]
    assert len(sets) == 2
    for jti, token in sets.items():
        claims = await verified(client, token, audience=tpp.fapi.client_id)
        assert claims["jti"] == jti and REVOKED in claims["events"]
    # Another TPP sees none of them and cannot acknowledge them.
    other = await other_tpp.call("POST", EVENTS, body={"ack": list(sets)})
    assert other.json() == {"moreAvailable": False, "sets": {}}
    jtis = list(sets)
    second = await tpp.call("POST", EVENTS, body={"ack": jtis[:1], "setErrs": {
        jtis[1]: {"err": "invalid_key", "description": "key unknown"}}})
    rest = second.json()
    assert list(rest["sets"]) == [e.jti for e in await events_of(db, tpp.fapi.client_id)][2:]
    assert rest["moreAvailable"] is False
    third = await tpp.call("POST", EVENTS, body={"ack": list(rest["sets"]), "maxEvents": 0})
    assert third.json() == {"moreAvailable": False, "sets": {}}
    states = [e.state for e in await events_of(db, tpp.fapi.client_id)]
    assert states == ["acknowledged", "refused", "acknowledged"]
    log = await outbox.delivery_log(db=db, client_id=tpp.fapi.client_id)
    assert {a["outcome"] for entry in log for a in entry["log"]} == {"polled", "acknowledged", "refused"}


async def test_polling_needs_the_tpps_token(client) -> None:  # type: ignore[no-untyped-def]
    answer = await client.post(EVENTS, json={})
    assert answer.status_code == 401


async def test_a_long_poll_is_held_until_an_event_is_stored(client, db, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    """RFC 8936 section 2.4: returnImmediately false with nothing waiting holds the answer; the revocation stored
    while it waits ends the hold, and the answer carries that revocation's event."""
    await subscribe(tpp, None)
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)

    async def revoke_later() -> None:
        await asyncio.sleep(0.5)
        await operators.revoke_consent(db=db, consent_id=consent_id)

    started = time.monotonic()
    revoking = asyncio.create_task(revoke_later())
    answer = await tpp.call("POST", EVENTS, body={"returnImmediately": False})
    held = time.monotonic() - started
    await revoking
    assert answer.status_code == 201, answer.text
    sets = answer.json()["sets"]
    assert len(sets) == 1
    claims = await verified(client, next(iter(sets.values())), audience=tpp.fapi.client_id)
    assert claims["events"][REVOKED]["subject"]["http://openbanking.org.uk/rid"] == consent_id
    assert 0.5 <= held < 5


@pytest.mark.parametrize("long_poll_ms", [300])
async def test_a_long_poll_with_nothing_stored_ends_empty_at_its_time_limit(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    await subscribe(tpp, None)
    started = time.monotonic()
    answer = await tpp.call("POST", EVENTS, body={"returnImmediately": False})
    held = time.monotonic() - started
    assert answer.json() == {"moreAvailable": False, "sets": {}}
    assert 0.3 <= held < 3


async def test_without_return_immediately_false_the_answer_is_not_held(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    await subscribe(tpp, None)
    started = time.monotonic()
    answer = await tpp.call("POST", EVENTS, body={"returnImmediately": True})
    assert answer.json() == {"moreAvailable": False, "sets": {}}
    assert time.monotonic() - started < 2  # the default hold is 10 s
