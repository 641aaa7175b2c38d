"""Two delivery workers on one PostgreSQL database (two replicas): the claim's ``FOR UPDATE SKIP LOCKED`` and lease
let each event be pushed exactly once, while both work concurrently (docs/architecture.md section 7)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC
from datetime import datetime

import httpx
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent.notifications import EventNotification
from consent.notifications import EventType
from consent.notifications import record
from gateway.events.tokens import SetSigner
from gateway.events.worker import DeliveryWorker
from gateway.security import jose
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.event_tables import EventSubscription

CLIENTS = 12
PER_CLIENT = 3


async def test_two_workers_deliver_each_event_once(settings: Settings, gateway_keys: KeyStore) -> None:
    received: list[str] = []

    async def notify(request: Request) -> Response:
        received.append(jose.unverified_claims((await request.body()).decode())["jti"])
        await asyncio.sleep(0)  # yield, so the other worker runs meanwhile
        return Response(status_code=202)

    receiver = Starlette(routes=[Route("/tpp/event-notifications", notify, methods=["POST"])])
    db = Database(settings.database_url)
    now = datetime.now(UTC)
    async with db.session() as session:
        for c in range(CLIENTS):
            session.add(EventSubscription(subscription_id=f"sub-{c}", client_id=f"client-{c}",
                                          callback_url="http://127.0.0.1:9/tpp", version="3.1",
                                          created_at=now, updated_at=now))
            for n in range(PER_CLIENT):
                record(session=session, client_id=f"client-{c}", event_type=EventType.RESOURCE_UPDATE,
                       resource_type="account-access-consent", resource_id=f"consent-{c}-{n}", at=now)
        await session.commit()
    signer = SetSigner(issuer=settings.issuer, base_paths={"accounts": "/open-banking/v3.1/aisp"}, keys=gateway_keys)
    workers = []
    for _ in range(2):
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))
        workers.append((DeliveryWorker(db=Database(settings.database_url), signer=signer, settings=settings,
                                       http=http, batch=2), http))
    try:
        handled = [0, 0]
        while True:
            rounds = await asyncio.gather(*(w.run_once() for w, _ in workers))
            handled = [h + r for h, r in zip(handled, rounds, strict=True)]
            if not any(rounds):
                break
    finally:
        for w, http in workers:
            await http.aclose()
            await w.db.dispose()
    counts = Counter(received)
    assert len(counts) == CLIENTS * PER_CLIENT
    assert set(counts.values()) == {1}, [j for j, n in counts.items() if n > 1]
    assert all(h > 0 for h in handled), handled  # both replicas took part
    async with db.session() as session:
        states = {e.state for e in (await session.exec(select(EventNotification))).all()}
    await db.dispose()
    assert states == {"delivered"}
