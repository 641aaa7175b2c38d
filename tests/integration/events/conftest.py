"""Fixtures for event notifications: the gateway (its delivery worker driven by the test, or running in the
lifespan), a TPP with a client-credentials token, and a TPP callback receiver listening on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import jwt
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.settings import Settings
from tests.helpers.bank import sandbox_transports
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import obie_specs  # noqa: F401  (fixture)
from tests.integration.consent.conftest import other_tpp  # noqa: F401  (fixture)
from tests.integration.consent.conftest import tpp  # noqa: F401  (fixture)

EVENTS = "/open-banking/v3.1/events"
SUBSCRIPTIONS = "/open-banking/v3.1/event-subscriptions"


@dataclass
class Receiver:
    """The TPP's callback: records every notification, answers with ``statuses`` in turn (then 202)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def notify(self, request: Request) -> Response:
        self.received.append({"path": request.url.path, "headers": dict(request.headers),
                              "body": (await request.body()).decode()})
        self.arrived.set()
        return Response(status_code=self.statuses.pop(0) if self.statuses else 202)

    async def next(self, timeout: float = 2.0) -> dict[str, Any]:
        await asyncio.wait_for(self.arrived.wait(), timeout)
        self.arrived.clear()
        return self.received[-1]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = Starlette(routes=[Route("/tpp/event-notifications", found.notify, methods=["POST"])])
    # The socket is bound and listening before the server runs: connections queue, nothing to wait for.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    found.url = f"http://127.0.0.1:{sock.getsockname()[1]}/tpp"
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield found
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
def settings(var_dir, long_poll_ms) -> Settings:  # type: ignore[no-untyped-def]
    from tests.conftest import ISSUER
    from tests.conftest import SANDBOX_URL

    # Fast retries so the back-off is observable within a test; the idle interval short.
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, event_poll_interval_ms=50,
                    event_retry_base_ms=200, event_retry_cap_ms=400, event_max_attempts=3,
                    event_long_poll_ms=long_poll_ms)


@pytest.fixture
def long_poll_ms() -> int:
    """The shipped hold of a long poll, unless a test parametrizes a shorter one."""
    return Settings.event_long_poll_ms


@pytest.fixture
def run_worker() -> bool:
    return False


@pytest.fixture
def events_app(settings, gateway_keys, sandbox_app, run_worker):  # type: ignore[no-untyped-def]
    from gateway.app import create_app

    return create_app(settings, keys=gateway_keys, **sandbox_transports(sandbox_app), create_schema=True,
                      start_event_worker=run_worker)


@pytest.fixture
async def gateway_app(events_app):  # type: ignore[no-untyped-def]
    async with LifespanManager(events_app) as manager:
        yield manager.app


@pytest.fixture
def worker(events_app, gateway_app):  # type: ignore[no-untyped-def]
    """The app's delivery worker, rounds run by the test (``run_worker`` False: nothing runs it otherwise)."""
    return events_app.state.event_worker




async def subscribe(tpp: Tpp, callback: str | None, **data: Any) -> dict[str, Any]:  # noqa: F811  (the fixture's name)
    body: dict[str, Any] = {"Data": {"Version": "3.1", **data}}
    if callback is not None:
        body["Data"]["CallbackUrl"] = callback
    answer = await tpp.call("POST", SUBSCRIPTIONS, body=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["Data"]  # type: ignore[no-any-return]


async def verified(client: Any, token: str, *, audience: str, leeway: float = 0) -> dict[str, Any]:
    """A SET verified by pyjwt (not the gateway's code) against the gateway's published JWKS; ``leeway``
    (seconds) for a test that held the worker's clock ahead, so the token's ``iat`` is in the future."""
    jwks = jwt.PyJWKSet.from_dict((await client.get("/jwks")).json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return jwt.decode(token, key=key, algorithms=["PS256"], audience=audience, issuer="http://127.0.0.1:8000",
                      leeway=leeway, options={"require": ["iss", "iat", "jti", "aud", "sub", "txn", "toe", "events"]})
