"""A committed event survives a hard crash (docs/architecture.md section 7, "Guarantees": a crash loses nothing
committed; at least once, always with the same ``jti``).

Real processes on free loopback ports, as in ``tests/integration/payments/test_crash.py``: the gateway (its
delivery worker on) and the sandbox bank. The TPP subscribes with a callback on 127.0.0.1 that at first answers
503, so the customer's revocation on the dashboard is committed with its event and the first push fails. The
gateway is then SIGKILLed (by pid) with the event undelivered, the callback starts answering 202, and the
restarted gateway pushes the event: the signed SET arrives, verifies with pyjwt against ``/jwks``, and carries
the ``jti`` of the outbox row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import jwt
from sqlmodel import select

from consent.notifications import EventNotification
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import load_specs
from gateway.settings import Settings
from gateway.store.db import Database
from tests.helpers.jws import signing_key
from tests.helpers.oauth import insert_client
from tests.integration.consent.conftest import ALL_SCOPES
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import cc_token
from tests.integration.events.conftest import Receiver
from tests.integration.events.conftest import subscribe
from tests.integration.events.test_event_delivery import authorised_for_alice
from tests.integration.events.test_event_delivery import revoke_on_dashboard
from tests.live import free_port
from tests.live import start_obgw
from tests.live import stop
from tests.live import wait_ready


async def _events(db: Database, client_id: str) -> list[EventNotification]:
    async with db.session() as session:
        return list((await session.exec(select(EventNotification).where(
            EventNotification.client_id == client_id))).all())


async def _until(what: str, check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_gateway_killed_after_the_revocation_commit_delivers_the_event_after_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    env.update(OBGW_PORT=str(port), OBGW_SANDBOX_PORT=str(sandbox_port), OBGW_VAR_DIR=str(tmp_path),
               OBGW_LOG_LEVEL="warning", OBGW_EVENT_DELIVERY="true", OBGW_EVENT_POLL_INTERVAL_MS="50",
               OBGW_EVENT_RETRY_BASE_MS="200", OBGW_EVENT_RETRY_CAP_MS="400", OBGW_EVENT_MAX_ATTEMPTS="100",
               OBGW_EVENT_TIMEOUT_MS="1000")
    settings = Settings(var_dir=tmp_path, port=port, sandbox_port=sandbox_port)
    log = tmp_path / "processes.log"
    sandbox = start_obgw(["serve", "--component", "sandbox"], env, log)
    gateway: subprocess.Popen[bytes] | None = None
    db = Database(settings.database_url)
    receiver.statuses = [503] * 1000  # the TPP's endpoint is down until the crash
    try:
        wait_ready(sandbox, f"http://127.0.0.1:{sandbox_port}/portal/api/psus", log)
        gateway = start_obgw(["serve", "--component", "gateway"], env, log)
        wait_ready(gateway, f"{settings.issuer}/healthz", log)
        fapi = dataclasses.replace(await insert_client(db, scope=ALL_SCOPES, key=signing_key()),
                                   issuer=settings.issuer)
        async with httpx.AsyncClient(base_url=settings.issuer, timeout=30) as http:
            specs = load_specs(settings.openapi_dir, declared=declared_operations(settings.policies_dir))
            tpp = Tpp(http=http, fapi=fapi, specs=specs, token=await cc_token(http, fapi),
                      signer=f"software-{fapi.client_id}")
            await subscribe(tpp, receiver.url)
            consent_id = await authorised_for_alice(db, fapi.client_id)
            await revoke_on_dashboard(http, consent_id)

            async def first_push_failed() -> bool:
                events = await _events(db, fapi.client_id)
                return bool(events) and events[0].attempts >= 1

            await _until("the first push was not made", first_push_failed)
            os.kill(gateway.pid, signal.SIGKILL)
            gateway.wait()
            (event,) = await _events(db, fapi.client_id)
            assert event.state == "pending"  # committed, not delivered
            pushed_before = len(receiver.received)
            receiver.statuses = []  # the endpoint is back: 202

            gateway = start_obgw(["serve", "--component", "gateway"], env, log)
            wait_ready(gateway, f"{settings.issuer}/healthz", log)

            async def delivered() -> bool:
                return (await _events(db, fapi.client_id))[0].state == "delivered"

            await _until("the event was not delivered after the restart", delivered)
            jwks = jwt.PyJWKSet.from_dict((await http.get("/jwks")).json())

        after = receiver.received[pushed_before:]
        assert after, "nothing arrived after the restart"
        token = after[-1]["body"]
        key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
        claims = jwt.decode(token, key=key, algorithms=["PS256"], audience=fapi.client_id, issuer=settings.issuer)
        assert claims["jti"] == event.jti
        assert {jwt.decode(r["body"], options={"verify_signature": False})["jti"] for r in receiver.received} \
            == {event.jti}  # every push, before and after the crash, the same event
        assert claims["events"]["urn:uk:org:openbanking:events:consent-authorization-revoked"]["subject"][
            "http://openbanking.org.uk/rid"] == consent_id
    finally:
        if gateway is not None:
            stop(gateway)
        stop(sandbox)
        await db.dispose()
