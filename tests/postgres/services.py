"""The real services the scale-out tests need (docs/architecture.md section 4): a fresh PostgreSQL database per run
on ``OBGW_TEST_POSTGRES_URL`` and a Redis key prefix per run on ``OBGW_TEST_REDIS_URL``.

When a variable is unset and the service answers at its usual local address (PostgreSQL on 127.0.0.1:5432 as
role ``postgres``, Redis on 127.0.0.1:6379), ``detect`` sets it, so a plain ``make test`` runs these suites.
Without a service the tests skip, and the run's header says in one line how to enable them; in CI
(``CI=true``) a missing service is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import pytest

POSTGRES_ENV = "OBGW_TEST_POSTGRES_URL"
REDIS_ENV = "OBGW_TEST_REDIS_URL"
HOW = (
    "set OBGW_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres and "
    "OBGW_TEST_REDIS_URL=redis://127.0.0.1:6379/0 (a PostgreSQL role that may CREATE DATABASE, and a Redis), "
    "or run .ci/run"
)


LOCAL: dict[str, tuple[str, int, str]] = {
    POSTGRES_ENV: ("127.0.0.1", 5432, "postgresql://postgres@127.0.0.1:5432/postgres"),
    REDIS_ENV: ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def detect() -> str:
    """Set each unset variable whose service answers locally; a one-line account of what the run uses."""
    found = []
    for variable, (host, port, url) in LOCAL.items():
        if not os.environ.get(variable) and _answers(host, port):
            os.environ[variable] = url
        found.append(f"{variable}={os.environ[variable]}" if os.environ.get(variable) else f"{variable} unset")
    line = "PostgreSQL/Redis suites: " + ", ".join(found)
    if not all(os.environ.get(v) for v in LOCAL):
        line += f" (those tests skip: {HOW})"
    return line


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        if in_ci():
            pytest.fail(f"{variable} is not set in CI: the PostgreSQL/Redis tests must run there ({HOW})")
        pytest.skip(f"{variable} not set: {HOW}")
    return value


def with_database(server_url: str, name: str, *, driver: str = "postgresql+asyncpg") -> str:
    parts = urlsplit(server_url)
    return urlunsplit((driver, parts.netloc, f"/{name}", parts.query, ""))


async def _admin(server_url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(with_database(server_url, urlsplit(server_url).path.lstrip("/") or "postgres",
                                               driver="postgresql"))  # fmt: skip
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """CREATE DATABASE obgw_test_<random>, yield its asyncpg URL, DROP it at the end (even on failure)."""
    name = f"obgw_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        message = f"PostgreSQL at {server_url} unreachable: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(f"{message}; {HOW}")
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def redis_prefix() -> str:
    """A key prefix no other run shares."""
    return f"obgw-test-{secrets.token_hex(6)}:"
