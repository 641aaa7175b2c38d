"""Exactly once across a hard crash, for variable recurring payments (VRP API v3.1.11 ``POST /domestic-vrps``,
``x-idempotency-key``; ``gateway.pipeline.vrp_store`` over ``gateway.pipeline.payments_store``).

Real processes on free loopback ports, as in ``test_crash``: one authorised VRP consent, N payments under N keys
fired at once, the gateway SIGKILLed (by pid) as soon as the bank has executed one, i.e. while payments sit
between "bank called" and "result stored". The gateway restarts; every payment is retried with its own key until
it answers 201. The bank then holds exactly one payment per key, the gateway's records are all done, and the
allowance counts each payment once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import httpx
from sqlmodel import col
from sqlmodel import select

from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import load_specs
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.payment_tables import VrpPaymentRecord
from sandbox.db import SandboxDatabase
from sandbox.models import VrpPayment
from sandbox.settings import SandboxSettings
from tests.helpers.jws import signing_key
from tests.helpers.oauth import insert_client
from tests.helpers.payments import retry_until_created
from tests.integration.consent.conftest import ALL_SCOPES
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import cc_token
from tests.integration.payments.test_vrp_payments import approved_vrp
from tests.integration.payments.test_vrp_payments import pay
from tests.integration.payments.test_vrp_payments import remaining
from tests.live import free_port
from tests.live import start_obgw
from tests.live import stop
from tests.live import wait_ready

N = 8


async def _bank_payments(bank: SandboxDatabase, consent_id: str) -> list[VrpPayment]:
    async with bank.session() as session:
        return list((await session.exec(select(VrpPayment).where(col(VrpPayment.consent_id) == consent_id))).all())


async def test_a_gateway_killed_mid_flight_makes_every_vrp_exactly_once_on_retry(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    env.update(OBGW_PORT=str(port), OBGW_SANDBOX_PORT=str(sandbox_port), OBGW_VAR_DIR=str(tmp_path),
               OBGW_LOG_LEVEL="warning")
    settings = Settings(var_dir=tmp_path, port=port, sandbox_port=sandbox_port)
    log = tmp_path / "processes.log"
    sandbox = start_obgw(["serve", "--component", "sandbox"], env, log)
    gateway: subprocess.Popen[bytes] | None = None
    db = Database(settings.database_url)
    bank = SandboxDatabase(SandboxSettings(var_dir=tmp_path).database_url)
    try:
        wait_ready(sandbox, f"http://127.0.0.1:{sandbox_port}/portal/api/psus", log)
        gateway = start_obgw(["serve", "--component", "gateway"], env, log)
        wait_ready(gateway, f"{settings.issuer}/healthz", log)

        fapi = await insert_client(db, scope=ALL_SCOPES, key=signing_key())
        fapi = dataclasses.replace(fapi, issuer=settings.issuer)
        async with httpx.AsyncClient(base_url=settings.issuer, timeout=60) as http:
            specs = load_specs(settings.openapi_dir, declared=declared_operations(settings.policies_dir))
            tpp = Tpp(http=http, fapi=fapi, specs=specs, token=await cc_token(http, fapi),
                      signer=f"software-{fapi.client_id}")
            approved = await approved_vrp(tpp)

            calls = [asyncio.create_task(pay(tpp, approved, "1.00", key=f"crash-{i}", check=False))
                     for i in range(N)]
            deadline = time.monotonic() + 30
            while not await _bank_payments(bank, approved.consent_id):
                assert time.monotonic() < deadline, "the bank executed nothing"
                await asyncio.sleep(0.005)
            os.kill(gateway.pid, signal.SIGKILL)
            gateway.wait()
            await asyncio.gather(*calls, return_exceptions=True)
            async with db.session() as session:
                pending = (await session.exec(select(VrpPaymentRecord.idempotency_key).where(
                    col(VrpPaymentRecord.state) == "pending"))).all()
            executed = {p.idempotency_key for p in await _bank_payments(bank, approved.consent_id)}
            caught = len(executed & set(pending))

            gateway = start_obgw(["serve", "--component", "gateway"], env, log)
            wait_ready(gateway, f"{settings.issuer}/healthz", log)
            answers = await asyncio.gather(*(
                retry_until_created(functools.partial(pay, tpp, approved, "1.00", key=f"crash-{i}", check=False),
                                    what=f"crash-{i}")
                for i in range(N)))
            after = await pay(tpp, approved, "1.00", key="after-the-crash", check=False)

        # The crash hit the window this test is about: executed at the bank, not yet recorded at the gateway.
        assert caught >= 1, "the kill did not land between the bank call and the stored result"
        payments = await _bank_payments(bank, approved.consent_id)
        by_key = {p.idempotency_key: p for p in payments}
        assert len(payments) == N + 1 and len(by_key) == N + 1  # none lost, none doubled
        for i, answer in enumerate(answers):
            assert answer.json()["Data"]["DomesticVRPId"] == by_key[f"crash-{i}"].payment_id
        async with db.session() as session:
            records = (await session.exec(select(VrpPaymentRecord).where(
                col(VrpPaymentRecord.consent_id) == approved.consent_id))).all()
        assert sorted(r.state for r in records) == ["done"] * (N + 1)
        # Each payment counted once: GBP 100.00 a calendar month less N + 1 payments of GBP 1.00.
        assert after.status_code == 201, after.text
        assert remaining(after)["Calendar-Month"] == f"{Decimal('100.00') - (N + 1):.2f} GBP"
    finally:
        if gateway is not None:
            stop(gateway)
        stop(sandbox)
        await db.dispose()
        await bank.dispose()
