"""The TPP's own delivery log and replay as JSON (gateway/hosting/tpp_event_log.py; docs/architecture.md
section 7): only that TPP's events, with their attempts; replay by jti re-sends the same jti; another TPP's
event, a token without an events scope and a malformed body are refused and change nothing."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from gateway.oauth import operators
from gateway.store.oauth_tables import Token
from gateway.store.oauth_tables import secret_hash
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.consent.conftest import new_tpp
from tests.integration.events.conftest import Receiver
from tests.integration.events.conftest import subscribe
from tests.integration.events.conftest import verified
from tests.integration.events.test_event_delivery import authorised_for_alice

LOG = "/tpp/v1/event-log"


async def delivered_event(worker, db, tpp: Tpp, receiver: Receiver) -> str:  # type: ignore[no-untyped-def]
    await subscribe(tpp, receiver.url)
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)
    await operators.revoke_consent(db=db, consent_id=consent_id)
    assert await worker.run_once() == 1
    return consent_id


async def test_the_log_lists_the_tpps_events_with_their_attempts(worker, db, tpp: Tpp, other_tpp: Tpp,  # type: ignore[no-untyped-def]
                                                                 receiver: Receiver) -> None:
    consent_id = await delivered_event(worker, db, tpp, receiver)
    answer = await tpp.call("GET", LOG, check=False)
    assert answer.status_code == 200, answer.text
    [event] = answer.json()["Data"]["Events"]
    assert (event["resource_id"], event["state"], event["attempts"]) == (consent_id, "delivered", 1)
    [attempt] = event["log"]
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 202 and attempt["latency_ms"] >= 0
    # Another TPP sees none of it.
    assert (await other_tpp.call("GET", LOG, check=False)).json()["Data"]["Events"] == []


async def test_replay_by_jti_re_sends_the_same_jti(worker, client, db, tpp: Tpp, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    await delivered_event(worker, db, tpp, receiver)
    first = await verified(client, receiver.received[-1]["body"], audience=tpp.fapi.client_id)
    answer = await tpp.call("POST", f"{LOG}/replay", body={"jti": first["jti"]}, check=False)
    assert answer.status_code == 200, answer.text
    assert answer.json()["Data"]["Replayed"] == [first["jti"]]
    assert await worker.run_once() == 1
    again = await verified(client, receiver.received[-1]["body"], audience=tpp.fapi.client_id)
    assert again["jti"] == first["jti"]


async def test_another_tpps_event_cannot_be_replayed(worker, client, db, tpp: Tpp, other_tpp: Tpp,  # type: ignore[no-untyped-def]
                                                     receiver: Receiver) -> None:
    await delivered_event(worker, db, tpp, receiver)
    jti = (await verified(client, receiver.received[-1]["body"], audience=tpp.fapi.client_id))["jti"]
    refused = await other_tpp.call("POST", f"{LOG}/replay", body={"jti": jti}, check=False)
    assert_ob_error(refused, 400, "UK.OBIE.Resource.NotFound", "jti")
    assert await worker.run_once() == 0  # nothing was made due again
    ranged = await other_tpp.call("POST", f"{LOG}/replay", body={"since": "2000-01-01T00:00:00+00:00"}, check=False)
    assert ranged.status_code == 200 and ranged.json()["Data"]["Replayed"] == []
    assert await worker.run_once() == 0


async def test_a_token_without_an_events_scope_is_refused(client, db, obie_specs) -> None:  # type: ignore[no-untyped-def]
    bare = await new_tpp(client, db, obie_specs)
    # Its token narrowed to openid: it holds none of the events scopes.
    async with db.session() as session:
        await session.exec(update(Token).where(col(Token.token_hash) == secret_hash(bare.token)).values(scope="openid"))
        await session.commit()
    for method, body in (("GET", None), ("POST", {"jti": "x"})):
        answer = await bare.call(method, LOG if method == "GET" else f"{LOG}/replay", body=body, check=False)
        assert answer.status_code == 403
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


async def test_without_a_token_nothing_is_served(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get(LOG)).status_code == 401


async def test_a_malformed_replay_is_refused(tpp: Tpp) -> None:
    for body, code, path in (({}, "UK.OBIE.Field.Invalid", "jti"),
                             ({"jti": "a", "since": "2026-01-01T00:00:00+00:00"}, "UK.OBIE.Field.Invalid", "jti"),
                             ({"since": "yesterday"}, "UK.OBIE.Field.InvalidDate", "since"),
                             ({"since": "2026-02-01T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
                              "UK.OBIE.Field.Invalid", "since")):
        assert_ob_error(await tpp.call("POST", f"{LOG}/replay", body=body, check=False), 400, code, path)
    assert_ob_error(await tpp.call("GET", f"{LOG}?limit=0", check=False), 400, "UK.OBIE.Field.Invalid", "limit")
