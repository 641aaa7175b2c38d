"""Liveness and readiness for orchestrators and load balancers.

``/healthz``: the process is up and serving (no dependency is touched, so a slow database never gets a
healthy process restarted). ``/readyz``: this replica can serve traffic: the database answers, Redis
answers when one is configured (single-use caches and rate limits live there), and the account backend
(the sandbox bank or the real bank's API) answers. Any failed or slow check makes it 503, so the load
balancer stops routing here (fail closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.backend.bank import Bank
from gateway.settings import Settings
from gateway.store.db import Database

CHECK_TIMEOUT = 2.0
_NO_STORE = {"cache-control": "no-store"}


class Readiness:
    """The dependency checks, with the connections they need opened once for the app's lifetime."""

    def __init__(self, *, settings: Settings, db: Database, bank: Bank) -> None:
        self._db = db
        self._bank = bank
        self._redis: Any = None
        if settings.redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(
                settings.redis_url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
            )

    async def _database(self) -> None:
        async with self._db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _redis_ping(self) -> None:
        if not await self._redis.ping():
            raise RuntimeError("no PONG")

    async def _upstream(self) -> None:
        await self._bank.ready()

    async def check(self) -> dict[str, str]:
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "database": self._database,
            "upstream": self._upstream,
        }
        if self._redis is not None:
            checks["redis"] = self._redis_ping
        results = await asyncio.gather(*(self._run(fn) for fn in checks.values()))
        return dict(zip(checks, results, strict=True))

    @staticmethod
    async def _run(fn: Callable[[], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(fn(), timeout=CHECK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the class name says which
            return f"down: {type(exc).__name__}"
        return "ok"

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    checks = await readiness.check()
    ready = all(result == "ok" for result in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
        headers=_NO_STORE,
    )
