"""tests/unit/consent/test_consent_concurrency.py, rerun on PostgreSQL: concurrent writers on separate
connections, where the audit head's row lock (not SQLite's database lock) keeps the chain from forking."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.unit.consent.test_consent_concurrency import *  # noqa: F403


@pytest.fixture
async def file_sessions(postgres_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:  # noqa: F811
    """Overrides the module's SQLite-file fixture: each writer gets its own PostgreSQL connection."""
    engine = create_async_engine(postgres_url, pool_size=10)
    yield async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    await engine.dispose()
