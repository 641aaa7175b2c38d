"""Rerun service and OAuth tests on PostgreSQL: one fresh database per run, migrated with the same alembic
revisions as SQLite, emptied after each test. The ``settings`` (gateway) and ``engine``/``file_sessions``
(consent service) fixtures are overridden here, so the re-collected tests are unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings
from gateway.store.migrate import upgrade
from gateway.store.registry import import_models
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.postgres.services import POSTGRES_ENV
from tests.postgres.services import fresh_database
from tests.postgres.services import require
from tests.unit.consent.conftest import NOW


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_database(require(POSTGRES_ENV)) as url:
        upgrade(url)
        yield url


async def _truncate(url: str) -> None:
    import_models()
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
async def empty_database_after_each_test(postgres_url: str) -> AsyncIterator[None]:
    yield
    await _truncate(postgres_url)


@pytest.fixture
def settings(var_dir: Path, postgres_url: str) -> Settings:
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, database_url=postgres_url)


# The consent service tests' fixtures (tests/unit/consent/conftest.py), on PostgreSQL.
@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Callable[[], AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@pytest.fixture
async def session(sessions: Callable[[], AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s


@pytest.fixture
def now() -> datetime:
    return NOW
