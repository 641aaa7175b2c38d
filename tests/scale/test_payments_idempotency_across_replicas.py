"""One payment order sent to two replicas at once (docs/architecture.md section 4; R/W API v3.1.11 "Idempotency": the
same ``x-idempotency-key`` and body within 24 hours is the same request and gets the same answer): the record
in the shared PostgreSQL database makes it one execution at the bank, whichever replica each call reaches, and
every answer names the same ``DomesticPaymentId``."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlmodel import col
from sqlmodel import func
from sqlmodel import select

from gateway.store.db import Database
from gateway.store.payment_tables import PaymentOrderRecord
from sandbox.db import SandboxDatabase
from sandbox.models import PaymentOrder
from sandbox.settings import SandboxSettings
from tests.scale.conftest import Replicas
from tests.scale.journey import PaymentGrant
from tests.scale.journey import payment_journey

ORDERS = "/open-banking/v3.1/pisp/domestic-payments"
# Twenty retries of one payment at once, alternating replicas: a retry with a known x-idempotency-key spends no
# budget (policies/rate-limits.yaml traffic model), so every one answers the original 201, none 429.
RETRIES = 20


async def _submit(replica: httpx.AsyncClient, grant: PaymentGrant, *, content: bytes, key: str) -> httpx.Response:
    return await replica.post(ORDERS, content=content, headers=grant.order_headers(ORDERS, content=content, key=key))


async def _bank_orders(replicas: Replicas, consent_id: str) -> list[PaymentOrder]:
    bank = SandboxDatabase(SandboxSettings(var_dir=replicas.var_dir).database_url)
    try:
        async with bank.session() as session:
            found = await session.exec(select(PaymentOrder).where(col(PaymentOrder.consent_id) == consent_id))
            return list(found.all())
    finally:
        await bank.dispose()


async def _gateway_records(replicas: Replicas, client_id: str) -> int:
    db = Database(replicas.database_url)
    try:
        async with db.session() as session:
            found = await session.exec(select(func.count()).select_from(PaymentOrderRecord)
                                       .where(col(PaymentOrderRecord.client_id) == client_id))
            return int(found.one())
    finally:
        await db.dispose()


async def test_one_payment_sent_to_both_replicas_concurrently_executes_once_with_one_payment_id(
    two_replicas: Replicas,
) -> None:
    async with two_replicas.clients() as (a, b, sandbox):
        grant = await payment_journey(a, sandbox, issuer=two_replicas.issuer)
        content = grant.order_content()
        key = uuid.uuid4().hex
        answers: list[httpx.Response] = list(await asyncio.gather(
            *(_submit((a, b)[n % 2], grant, content=content, key=key) for n in range(RETRIES))
        ))

    assert [r.status_code for r in answers] == [201] * len(answers), [r.text for r in answers if r.status_code != 201]
    payment_ids = {r.json()["Data"]["DomesticPaymentId"] for r in answers}
    assert len(payment_ids) == 1
    assert len({r.content for r in answers}) == 1  # a replay is the answer as created, byte for byte
    orders = await _bank_orders(two_replicas, grant.consent_id)
    assert [o.payment_id for o in orders] == list(payment_ids)
    assert await _gateway_records(two_replicas, grant.fapi.client_id) == 1
