"""``/healthz`` (the process is up) and ``/readyz`` (database, Redis when configured and the account backend
answer); a stopped dependency makes the replica not ready: 503, naming the check that failed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.backend.upstream import Transport
from gateway.backend.upstream import Upstream
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.helpers.bank import AsgiTransport
from tests.helpers.bank import sandbox_transports
from tests.live import free_port


async def test_healthz_and_readyz_report_ok(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "upstream": "ok"}}
    assert ready.headers["cache-control"] == "no-store"


async def _gateway(settings: Settings, keys: KeyStore, transport: Transport) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, keys=keys, bank_transport=transport, create_schema=True)
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=ISSUER) as http:
            yield http


@pytest.fixture
async def bank_down(settings: Settings, gateway_keys: KeyStore) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _gateway(settings, gateway_keys, Upstream(base_url=f"http://127.0.0.1:{free_port()}", retries=0)):
        yield http


@pytest.fixture
async def redis_down(settings: Settings, gateway_keys: KeyStore, sandbox_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    # A Redis URL where nothing listens: a stopped Redis.
    stopped = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async for http in _gateway(stopped, gateway_keys, AsgiTransport(sandbox_app)):
        yield http


@pytest.fixture
async def database_down(settings: Settings, gateway_keys: KeyStore, sandbox_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    stopped = settings.replace(database_url=f"postgresql+asyncpg://obgw@127.0.0.1:{free_port()}/obgw")
    app = create_app(stopped, keys=gateway_keys, **sandbox_transports(sandbox_app))
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=ISSUER) as http:
            yield http


async def test_readyz_is_503_when_the_bank_is_unreachable(bank_down: httpx.AsyncClient) -> None:
    response = await bank_down.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["checks"]["upstream"].startswith("down")
    assert response.json()["checks"]["database"] == "ok"
    # Liveness is not readiness: the process itself is fine.
    assert (await bank_down.get("/healthz")).status_code == 200


async def test_readyz_is_503_when_redis_is_stopped(redis_down: httpx.AsyncClient) -> None:
    response = await redis_down.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("down")
    assert response.json()["checks"]["upstream"] == "ok"


async def test_readyz_is_503_when_the_database_is_stopped(database_down: httpx.AsyncClient) -> None:
    response = await database_down.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("down")
