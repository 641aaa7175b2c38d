"""The gateway's database: one async engine and session factory per app (SQLModel over SQLAlchemy).

SQLite through aiosqlite by default; PostgreSQL through asyncpg when ``OBGW_DATABASE_URL`` says so.
Schema changes go through alembic (``gateway/store/migrations``); ``create_all`` exists for tests only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Session
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# One definition of the aware-UTC column type, the consent tables' (gateway may import consent, not the reverse);
# re-exported here because the gateway's tables and migrations name it as gateway.store.db.UTCDateTime.
from consent.models import UTCDateTime as UTCDateTime


def _ensure_sqlite_dir(url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def utcnow() -> datetime:
    """The clock every stored timestamp is taken from: aware UTC, as ``UTCDateTime`` stores it."""
    return datetime.now(UTC)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        _ensure_sqlite_dir(url)
        self.url = url
        kwargs: dict[str, object] = {"echo": echo}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # A session class of this database's own, so listeners (gateway.observability.consent_changes) watch this
        # database's transactions and no other app's.
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False,
                                            sync_session_class=self.session_class)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def create_all(self) -> None:
        from gateway.store.registry import import_models

        import_models()
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
            await conn.run_sync(_stamp_head)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _stamp_head(sync_conn: Any) -> None:
    # create_all builds the head schema; record it as such, so the CLI's schema check (gateway/store/check.py)
    # sees what ``obgw migrate`` would have left.
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from gateway.store.migrate import alembic_config

    context = MigrationContext.configure(sync_conn)
    if context.get_current_revision() is None:
        context.stamp(ScriptDirectory.from_config(alembic_config("")), "head")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
