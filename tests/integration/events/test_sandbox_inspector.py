"""The sandbox request inspector (gateway/events/inspector.py, gateway/hosting/sandbox_inspector.py;
docs/architecture.md section 7, "Sandbox inspector"): a TPP without a public endpoint registers
``{issuer}/sandbox/v1/inspector/{client_id}`` as its CallbackUrl and reads its notifications there; only its own;
nothing of it in production."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from sqlmodel import select

from consent.notifications import EventNotification
from gateway.events.inspector import Inspector
from gateway.events.worker import DeliveryWorker
from gateway.hosting import sandbox_inspector
from gateway.oauth import operators
from gateway.settings import Settings
from gateway.store.event_tables import EventSubscription
from tests.conftest import ISSUER
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import assert_ob_error
from tests.integration.events.conftest import SUBSCRIPTIONS
from tests.integration.events.conftest import subscribe
from tests.integration.events.conftest import verified
from tests.integration.events.test_event_delivery import REVOKED
from tests.integration.events.test_event_delivery import authorised_for_alice
from tests.integration.events.test_event_delivery import events_of

INSPECTOR = "/sandbox/v1/inspector"


def inspector_url(client_id: str) -> str:
    return f"{ISSUER}{INSPECTOR}/{client_id}"


async def revoked_event(worker, db, tpp: Tpp, callback: str) -> EventNotification:  # type: ignore[no-untyped-def]
    await subscribe(tpp, callback)
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)
    await operators.revoke_consent(db=db, consent_id=consent_id)
    assert await worker.run_once() == 1
    (event,) = await events_of(db, tpp.fapi.client_id)
    return event


async def test_a_revocation_shows_in_the_tpps_inspector_as_a_set_verified_against_the_jwks(
    worker, client, db, tpp: Tpp  # type: ignore[no-untyped-def]
) -> None:
    event = await revoked_event(worker, db, tpp, inspector_url(tpp.fapi.client_id))
    assert event.state == "delivered"
    answer = await tpp.call("GET", f"{INSPECTOR}/{tpp.fapi.client_id}", check=False)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    data = answer.json()["Data"]
    assert data["CallbackUrl"] == inspector_url(tpp.fapi.client_id)
    [request] = data["Requests"]
    assert request["Source"] == "worker"
    assert request["Headers"]["content-type"] == "application/jwt"
    assert request["Headers"]["x-fapi-financial-id"] == "obgw-sandbox-aspsp"
    claims = await verified(client, request["Body"], audience=tpp.fapi.client_id)
    assert claims["jti"] == event.jti and list(claims["events"]) == [REVOKED]


async def test_a_callback_posted_over_http_is_recorded_too(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    posted = await client.post(f"{INSPECTOR}/{tpp.fapi.client_id}/event-notifications", content=b"a.b.c",
                               headers={"content-type": "application/jwt"})
    assert posted.status_code == 202
    [request] = (await tpp.call("GET", f"{INSPECTOR}/{tpp.fapi.client_id}", check=False)).json()["Data"]["Requests"]
    assert (request["Source"], request["Body"], request["Headers"]["content-type"]) == ("http", "a.b.c",
                                                                                       "application/jwt")


async def test_another_tpp_cannot_read_the_inspector(worker, db, tpp: Tpp, other_tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    await revoked_event(worker, db, tpp, inspector_url(tpp.fapi.client_id))
    answer = await other_tpp.call("GET", f"{INSPECTOR}/{tpp.fapi.client_id}", check=False)
    assert answer.status_code == 404 and tpp.fapi.client_id not in answer.text
    assert (await other_tpp.http.get(f"{INSPECTOR}/{tpp.fapi.client_id}")).status_code == 401  # no token


async def test_another_tpps_inspector_is_refused_as_a_callback_url(client, db, tpp: Tpp, other_tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    body = {"Data": {"Version": "3.1", "CallbackUrl": inspector_url(tpp.fapi.client_id)}}
    answer = await other_tpp.call("POST", SUBSCRIPTIONS, body=body, check=False)
    assert_ob_error(answer, 400, "UK.OBIE.Field.Invalid", "Data.CallbackUrl")
    assert "another client's sandbox inspector" in answer.text
    async with db.session() as session:
        assert (await session.exec(select(EventSubscription))).all() == []  # nothing stored


async def test_a_push_to_another_tpps_inspector_is_refused(worker, db, tpp: Tpp, other_tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    # A subscription stored by other means (the API refuses it, above): the worker refuses the push too.
    now = datetime.now(UTC)
    async with db.session() as session:
        session.add(EventSubscription(subscription_id="s-1", client_id=other_tpp.fapi.client_id, version="3.1",
                                      callback_url=inspector_url(tpp.fapi.client_id), created_at=now,
                                      updated_at=now))
        await session.commit()
    consent_id = await authorised_for_alice(db, other_tpp.fapi.client_id)
    await operators.revoke_consent(db=db, consent_id=consent_id)
    assert await worker.run_once() == 1
    (event,) = await events_of(db, other_tpp.fapi.client_id)
    assert event.state == "failed" and event.last_error.startswith("refused:")
    answer = await tpp.call("GET", f"{INSPECTOR}/{tpp.fapi.client_id}", check=False)
    assert answer.json()["Data"]["Requests"] == []


async def test_the_inspector_reads_only_its_own_url() -> None:
    inspector = Inspector(issuer=ISSUER, entries=2)
    assert inspector.owner_of(inspector_url("abc")) == "abc"
    assert inspector.owner_of(inspector_url("abc") + "/") == "abc"
    assert inspector.owner_of(inspector_url("abc") + "/more") is None
    assert inspector.owner_of(f"{ISSUER}{INSPECTOR}/") is None
    assert inspector.owner_of(f"http://elsewhere.example{INSPECTOR}/abc") is None
    for body in ("1", "2", "3"):
        inspector.record(client_id="abc", at=datetime.now(UTC), source="http", headers={},
                         body=body)
    assert [entry.body for entry in inspector.entries(client_id="abc")] == ["3", "2"]  # the last N, newest first


async def test_production_mounts_no_inspector_and_its_worker_checks_the_url_like_any_other(
    var_dir, db, gateway_keys, tpp: Tpp  # type: ignore[no-untyped-def]
) -> None:
    production = Settings(var_dir=var_dir, issuer=ISSUER, mode="production", headless_approval=True)
    inspector = Inspector(issuer=ISSUER, entries=5)
    assert sandbox_inspector.routes(production, inspector) == []
    worker = DeliveryWorker(db=db, signer=None, settings=production, inspector=inspector)  # type: ignore[arg-type]
    assert worker.inspector is None
    await subscribe(tpp, inspector_url(tpp.fapi.client_id))
    consent_id = await authorised_for_alice(db, tpp.fapi.client_id)
    await operators.revoke_consent(db=db, consent_id=consent_id)
    assert await worker.run_once() == 1
    await worker.close()
    (event,) = await events_of(db, tpp.fapi.client_id)
    assert event.state == "failed" and "must be https" in event.last_error
    assert inspector.entries(client_id=tpp.fapi.client_id) == []
