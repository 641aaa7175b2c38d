"""Shared fixtures: settings built in Python (no environment), the sandbox bank and the gateway as
in-process ASGI apps wired together, and httpx clients to both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.security.keys import KeyStore
from gateway.settings import Settings
from tests.helpers.bank import sandbox_transports

ISSUER = "http://127.0.0.1:8000"
SANDBOX_URL = "http://127.0.0.1:8001"


def pytest_configure(config: pytest.Config) -> None:
    """PostgreSQL and Redis answering on 127.0.0.1 are used without extra variables (tests.postgres.services)."""
    from tests.postgres.services import detect

    config.stash[_SERVICES] = detect()


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash.get(_SERVICES, "")


_SERVICES = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for key in list(os.environ):
        if key.startswith("OBGW_") and not key.startswith("OBGW_TEST_") and key != "OBGW_REQUIRE_BROWSER":
            monkeypatch.delenv(key)
    yield


@pytest.fixture(scope="session")
def gateway_keys() -> KeyStore:
    """One RSA key for the whole run: key generation is slow and not what the tests are about."""
    return KeyStore.generate_in_memory(sandbox=True)


@pytest.fixture
def var_dir(tmp_path: Path, gateway_keys: KeyStore) -> Path:
    gateway_keys.save(tmp_path / "keys")
    return tmp_path


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)


@pytest.fixture
def sandbox_settings(var_dir: Path):  # type: ignore[no-untyped-def]
    from sandbox.settings import SandboxSettings

    return SandboxSettings(var_dir=var_dir, public_url=SANDBOX_URL, gateway_issuer=ISSUER)


@pytest.fixture
async def sandbox_app(sandbox_settings):  # type: ignore[no-untyped-def]
    from sandbox.app import create_app as create_sandbox

    app = create_sandbox(sandbox_settings, create_schema=True)
    async with LifespanManager(app) as manager:
        yield manager.app


@pytest.fixture
async def sandbox(sandbox_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url=SANDBOX_URL) as c:
        yield c


@pytest.fixture
async def gateway_app(settings: Settings, gateway_keys: KeyStore, sandbox_app):  # type: ignore[no-untyped-def]
    from gateway.app import create_app

    app = create_app(
        settings,
        keys=gateway_keys,
        **sandbox_transports(sandbox_app),
        create_schema=True,
    )
    async with LifespanManager(app) as manager:
        yield manager.app


@pytest.fixture
async def client(gateway_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url=ISSUER) as c:
        yield c
