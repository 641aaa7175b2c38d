"""Guard: the re-collected tests in this folder really run on PostgreSQL, not on the SQLite defaults."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.postgres.test_consent_concurrency_on_postgres import file_sessions  # noqa: F401


async def test_gateway_settings_point_at_postgres(settings: Settings, db) -> None:  # type: ignore[no-untyped-def]
    assert settings.database_url.startswith("postgresql+asyncpg://")
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT current_database()"))).scalar_one().startswith("obgw_test_")


async def test_consent_engine_is_postgres(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT current_database()"))).scalar_one().startswith("obgw_test_")


async def test_concurrency_sessions_are_postgres(file_sessions: async_sessionmaker[AsyncSession]) -> None:  # noqa: F811
    async with file_sessions() as session:
        assert session.bind.dialect.name == "postgresql"  # type: ignore[union-attr]
