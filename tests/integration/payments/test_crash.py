"""Exactly once across a hard crash (PISP profile "Idempotent Payment Order"; ``gateway.pipeline.payments_store``).

Real processes on free loopback ports: the sandbox bank (``obgw serve --component sandbox``) and the gateway
(``obgw serve --component gateway``) sharing a var directory. N payment consents are approved (headless route,
choosing the debtor account); the N payment orders are fired concurrently and the gateway is SIGKILLed (by pid)
as soon as the bank has executed one, i.e. while orders sit between "bank called" and "result stored". The
gateway restarts; every order is retried with its own key until it answers 201. The bank then shows each payment
exactly once: one order per consent, one debit per order on the debtor account, none lost, none doubled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlmodel import col
from sqlmodel import func
from sqlmodel import select

from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import load_specs
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.payment_tables import PaymentOrderRecord
from sandbox.customers import account_id
from sandbox.db import SandboxDatabase
from sandbox.models import LedgerEntry
from sandbox.models import PaymentOrder
from sandbox.settings import SandboxSettings
from tests.helpers.jws import signing_key
from tests.helpers.oauth import insert_client
from tests.helpers.payments import Approved
from tests.helpers.payments import amount_body
from tests.helpers.payments import approved_payment
from tests.helpers.payments import retry_until_created
from tests.helpers.payments import submit
from tests.integration.consent.conftest import ALL_SCOPES
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import cc_token
from tests.live import free_port
from tests.live import start_obgw
from tests.live import stop
from tests.live import wait_ready

N = 12
DEBTOR = account_id(key="alice-current")


async def _bank_orders(bank: SandboxDatabase, consent_ids: list[str]) -> list[PaymentOrder]:
    async with bank.session() as session:
        found = await session.exec(select(PaymentOrder).where(col(PaymentOrder.consent_id).in_(consent_ids)))
        return list(found.all())


async def _debits(bank: SandboxDatabase) -> int:
    async with bank.session() as session:
        found = await session.exec(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.account_id == DEBTOR, LedgerEntry.credit_debit == "Debit"))
        return int(found.one())


async def _caught_mid_flight(db: Database, bank: SandboxDatabase, consent_ids: list[str]) -> int:
    """Orders the bank executed while the gateway's record of them was still pending: the crash window."""
    executed = {o.consent_id for o in await _bank_orders(bank, consent_ids)}
    async with db.session() as session:
        pending = (await session.exec(select(PaymentOrderRecord.consent_id).where(
            PaymentOrderRecord.state == "pending"))).all()
    return len(executed & set(pending))


async def _fire_and_kill(tpp: Tpp, approved: list[Approved], bank: SandboxDatabase,
                         gateway: subprocess.Popen[bytes]) -> None:
    consent_ids = [a.consent_id for a in approved]
    calls = [asyncio.create_task(submit(tpp, a, key=f"crash-{i}", check=False)) for i, a in enumerate(approved)]
    deadline = time.monotonic() + 30
    while not await _bank_orders(bank, consent_ids):
        assert time.monotonic() < deadline, "the bank executed nothing"
        await asyncio.sleep(0.005)
    os.kill(gateway.pid, signal.SIGKILL)
    gateway.wait()
    await asyncio.gather(*calls, return_exceptions=True)


async def test_a_gateway_killed_mid_flight_finishes_every_payment_exactly_once_on_retry(tmp_path: Path) -> None:
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
            approved = [await approved_payment(tpp, body=amount_body("domestic-payments", "1.00"),
                                               account_id=DEBTOR, key=f"consent-{i}") for i in range(N)]
            debits_before = await _debits(bank)

            await _fire_and_kill(tpp, approved, bank, gateway)
            caught = await _caught_mid_flight(db, bank, [a.consent_id for a in approved])

            gateway = start_obgw(["serve", "--component", "gateway"], env, log)
            wait_ready(gateway, f"{settings.issuer}/healthz", log)
            answers = await asyncio.gather(*(
                retry_until_created(functools.partial(submit, tpp, a, key=f"crash-{i}", check=False),
                                    what=f"crash-{i}")
                for i, a in enumerate(approved)))

        # The crash hit the window this test is about: executed at the bank, not yet recorded at the gateway.
        assert caught >= 1, "the kill did not land between the bank call and the stored result"
        orders = await _bank_orders(bank, [a.consent_id for a in approved])
        by_consent = {o.consent_id: o for o in orders}
        assert len(orders) == N and len(by_consent) == N  # none lost, none doubled
        for answer, consent in zip(answers, approved, strict=True):
            assert answer.json()["Data"]["DomesticPaymentId"] == by_consent[consent.consent_id].payment_id
        assert await _debits(bank) - debits_before == N  # one debit per payment on the debtor account
        async with db.session() as session:
            states = (await session.exec(select(PaymentOrderRecord.state).where(
                PaymentOrderRecord.client_id == fapi.client_id))).all()
        assert sorted(states) == ["done"] * N
    finally:
        if gateway is not None:
            stop(gateway)
        stop(sandbox)
        await db.dispose()
        await bank.dispose()
