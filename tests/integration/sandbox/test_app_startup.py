"""Start-up: the test customers are seeded idempotently (a restart adds nothing) and quickly (no hashing at
start-up); without a schema, start-up fails with a clear instruction instead of serving a broken bank."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager

from sandbox.app import create_app
from sandbox.customers import ACCOUNTS
from sandbox.customers import CUSTOMERS
from sandbox.settings import SandboxSettings


async def test_restart_on_the_same_database_seeds_nothing_twice(sandbox_settings: SandboxSettings) -> None:
    for _ in range(2):
        started = time.perf_counter()
        async with LifespanManager(create_app(sandbox_settings, create_schema=True)):
            pass
        # Generous bound for a shared machine; the seed itself never hashes a password.
        assert time.perf_counter() - started < 2.0
    with sqlite3.connect(sandbox_settings.var_dir / "sandbox.db") as conn:
        assert conn.execute("SELECT count(*) FROM sandbox_customer").fetchone()[0] == len(CUSTOMERS)
        assert conn.execute("SELECT count(*) FROM sandbox_account").fetchone()[0] == len(ACCOUNTS)


async def test_start_without_schema_fails_with_instruction(tmp_path: Path) -> None:
    settings = SandboxSettings(var_dir=tmp_path)
    with pytest.raises(RuntimeError, match="obgw sandbox seed"):
        async with LifespanManager(create_app(settings, create_schema=False)):
            pass
