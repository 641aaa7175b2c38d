"""The gateway's AIS pipeline against the real sandbox bank over 127.0.0.1.

The upstream client is aiohttp (``gateway.backend.upstream``), which cannot call an ASGI app in-process, so the sandbox
app (the shared ``sandbox_app`` fixture) is served by uvicorn on a free loopback port inside the test's event
loop; the gateway app is the shared ``gateway_app`` with the AIS pipeline pointed at that port. Consents and
tokens are inserted directly: a client (``tests.helpers.oauth.insert_client``), an account-access consent created
and authorised through ``consent.service``, and a DPoP-bound access token row.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from consent import service
from gateway.backend.upstream import Upstream
from gateway.pipeline import ais
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Token
from gateway.store.oauth_tables import new_secret
from gateway.store.oauth_tables import secret_hash
from sandbox.customers import accounts_of
from sandbox.customers import customer_id
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401 - fixture
from tests.helpers.oauth import insert_client

ISSUER = "http://127.0.0.1:8000"
AIS = "/open-banking/v3.1/aisp"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live_bank(sandbox_app) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(sandbox_app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
def starlette_app(settings, gateway_keys, sandbox_app, live_bank):  # type: ignore[no-untyped-def]
    """The gateway app, with the AIS pipeline installed here (pointed at ``live_bank``) until the composition
    root mounts it; if it already does, its pipeline is replaced by one aimed at ``live_bank``."""
    from gateway.app import create_app

    app = create_app(settings, keys=gateway_keys, bank_transport=Upstream(base_url=live_bank),
                     http_transport=httpx.ASGITransport(app=sandbox_app), create_schema=True)
    built = ais.AisPipeline.build(app.state.services)
    previous = getattr(app.state, ais.STATE_KEY, None)
    setattr(app.state, ais.STATE_KEY, built)
    if previous is None:
        app.router.routes.extend([*ais.routes(built), *ais.fallback_routes(base=app.state.services.specs.apis["accounts"].base_path)])
    return app


@pytest.fixture
async def gateway_app(starlette_app):  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    async with LifespanManager(starlette_app) as manager:
        yield manager.app
    await getattr(starlette_app.state, ais.STATE_KEY).close()


@pytest.fixture
def pipeline(starlette_app, gateway_app) -> ais.AisPipeline:  # type: ignore[no-untyped-def]
    return getattr(starlette_app.state, ais.STATE_KEY)  # type: ignore[no-any-return]


@pytest.fixture
async def gw(gateway_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url=ISSUER) as c:
        yield c


@dataclass
class Grant:
    fapi: FapiClient
    consent_id: str
    psu_id: str
    account_ids: list[str]
    access_token: str

    def headers(self, method: str, path: str, **extra: str) -> dict[str, str]:
        return {
            "authorization": f"DPoP {self.access_token}",
            "dpop": self.fapi.dpop(method, path.split("?")[0], access_token=self.access_token),
            **extra,
        }


async def make_grant(
    db: Any,
    *,
    permissions: list[str],
    username: str = "alice",
    fapi: FapiClient | None = None,
    accounts: list[str] | None = None,
    grant_type: str = "authorization_code",
    data: dict[str, Any] | None = None,
) -> Grant:
    """An Authorised account-access consent for ``username`` and a DPoP-bound customer token for it."""
    fapi = fapi or await insert_client(db)
    psu = customer_id(username=username)
    available = [a.account_id for a in accounts_of(username)]
    chosen = accounts if accounts is not None else available
    now = utcnow()
    async with db.session() as session:
        consent = await service.create_account_access_consent(
            session=session, client_id=fapi.client_id, data={"Permissions": permissions, **(data or {})},
            risk={}, now=now,
        )
        consent_id = consent.consent_id
        await service.authorise(session=session, consent_id=consent_id, client_id=fapi.client_id, psu_id=psu,
                                account_ids=chosen, available_account_ids=available, now=now)
    token = await insert_token(db, fapi=fapi, psu_id=psu, consent_id=consent_id, grant_type=grant_type)
    return Grant(fapi=fapi, consent_id=consent_id, psu_id=psu, account_ids=chosen, access_token=token)


async def insert_token(db: Any, *, fapi: FapiClient, psu_id: str | None, consent_id: str | None,
                       grant_type: str = "authorization_code", scope: str = "openid accounts") -> str:
    value = new_secret()
    async with db.session() as session:
        session.add(Token(
            token_hash=secret_hash(value), kind="access", grant_id=uuid.uuid4().hex, grant_type=grant_type,
            client_id=fapi.client_id, psu_id=psu_id, consent_id=consent_id, scope=scope, jkt=fapi.jkt,
            expires_at=utcnow() + timedelta(minutes=5),
        ))
        await session.commit()
    return value
