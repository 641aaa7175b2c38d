"""The scale-out topology of docs/architecture.md section 4 as real processes: two gateway replicas (``obgw serve
--component gateway``; B with ``--no-migrate``) sharing one fresh PostgreSQL database, one Redis key prefix,
one issuer, one session secret and one key directory, plus the sandbox bank (``obgw serve --component
sandbox``), all on free 127.0.0.1 ports.

``two_replicas`` is the fixture other suites use (rate limits and payment idempotency across replicas): it
gives the URLs and ``clients()`` opens httpx clients to A, B and the sandbox.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.live import free_port
from tests.live import start_obgw
from tests.live import stop
from tests.live import wait_ready
from tests.postgres.services import POSTGRES_ENV
from tests.postgres.services import REDIS_ENV
from tests.postgres.services import fresh_database
from tests.postgres.services import redis_prefix
from tests.postgres.services import require

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Replicas:
    a_url: str
    b_url: str
    sandbox_url: str
    issuer: str
    database_url: str
    redis_url: str
    redis_prefix: str
    var_dir: Path
    env: dict[str, str]

    @asynccontextmanager
    async def clients(self) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]]:
        """(replica A, replica B, sandbox): separate cookie jars, as separate browsers would have."""
        async with (
            httpx.AsyncClient(base_url=self.a_url, timeout=20) as a,
            httpx.AsyncClient(base_url=self.b_url, timeout=20) as b,
            httpx.AsyncClient(base_url=self.sandbox_url, timeout=20) as sandbox,
        ):
            yield a, b, sandbox


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    server = require(POSTGRES_ENV)
    redis_url = require(REDIS_ENV)
    var_dir = tmp_path_factory.mktemp("replicas")
    a_port, b_port, sandbox_port = free_port(), free_port(), free_port()
    issuer = f"http://127.0.0.1:{a_port}"
    prefix = redis_prefix()
    processes: list[subprocess.Popen[bytes]] = []
    with fresh_database(server) as database_url:
        base = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_") or k.startswith("OBGW_TEST_")}
        env = {
            **base,
            "OBGW_VAR_DIR": str(var_dir),
            "OBGW_ISSUER": issuer,
            "OBGW_SANDBOX_PORT": str(sandbox_port),
            "OBGW_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
            "OBGW_DATABASE_URL": database_url,
            "OBGW_REDIS_URL": redis_url,
            "OBGW_REDIS_PREFIX": prefix,
            # Customer sessions and CSRF tokens must verify on whichever replica the next request reaches.
            "OBGW_SESSION_SECRET": secrets.token_urlsafe(32),
            "OBGW_LOG_LEVEL": "warning",
        }
        replicas = Replicas(
            a_url=issuer, b_url=f"http://127.0.0.1:{b_port}", sandbox_url=f"http://127.0.0.1:{sandbox_port}",
            issuer=issuer, database_url=database_url, redis_url=redis_url, redis_prefix=prefix, var_dir=var_dir,
            env=env,
        )  # fmt: skip
        try:
            sandbox = start_obgw(["serve", "--component", "sandbox"], env, var_dir / "sandbox.log")
            processes.append(sandbox)
            wait_ready(sandbox, f"{replicas.sandbox_url}/healthz", var_dir / "sandbox.log", timeout=START_TIMEOUT)
            # A migrates the fresh database; B starts only once A is ready, and never migrates.
            a = start_obgw(["serve", "--component", "gateway"], {**env, "OBGW_PORT": str(a_port)}, var_dir / "a.log")
            processes.append(a)
            wait_ready(a, f"{replicas.a_url}/readyz", var_dir / "a.log", timeout=START_TIMEOUT)
            b = start_obgw(["serve", "--component", "gateway", "--no-migrate"], {**env, "OBGW_PORT": str(b_port)},
                       var_dir / "b.log")  # fmt: skip
            processes.append(b)
            wait_ready(b, f"{replicas.b_url}/readyz", var_dir / "b.log", timeout=START_TIMEOUT)
            yield replicas
        finally:
            for process in reversed(processes):
                stop(process)
