"""Is this database an obgw database at the current schema? Asked by the CLI before it reads or writes.

An operator pointing ``obgw audit verify`` (or any command) at the wrong place must learn which database was
tried, what is wrong with it and what to do (docs/architecture.md section 5: every command is scriptable, so
the answer is one line on stderr and a non-zero exit, never a traceback). Three failures are told apart:
the database cannot be reached, it has no obgw schema (or an older one: ``obgw migrate``), or a query failed
on it for another reason. The check reads alembic's version table; it never creates a database, so a
mistyped SQLite path is reported rather than silently created empty.
"""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.store.migrate import alembic_config

_SQLITE_PREFIX = "sqlite+aiosqlite:///"


class DatabaseProblem(Exception):
    """A database the CLI cannot use; ``str()`` is the whole operator-facing message."""


def shown(url: str) -> str:
    """The URL as an operator may see it: the password, if any, is masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def explain(*, url: str, error: BaseException) -> DatabaseProblem:
    """Turn a driver or SQLAlchemy failure met while using ``url`` into the operator's message."""
    reason = _first_line(error)
    lowered = reason.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return DatabaseProblem(
            f"the database {shown(url)} lacks obgw tables ({reason}); run `obgw migrate` with the same "
            "OBGW_DATABASE_URL first"
        )
    if isinstance(error, OSError) or (isinstance(error, DBAPIError) and error.connection_invalidated):
        return DatabaseProblem(f"cannot reach the database {shown(url)}: {reason}; check OBGW_DATABASE_URL")
    return DatabaseProblem(f"the database {shown(url)} failed: {reason}")


async def require_current_schema(*, url: str) -> None:
    """Raise DatabaseProblem unless ``url`` answers and carries the obgw schema at the head revision."""
    if url.startswith(_SQLITE_PREFIX) and ":memory:" not in url:
        path = Path(url[len(_SQLITE_PREFIX):])
        if not path.is_file():
            raise DatabaseProblem(
                f"there is no database at {path} (OBGW_DATABASE_URL={shown(url)}); run `obgw migrate` to create it"
            )
    try:
        engine = create_async_engine(url)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise DatabaseProblem(f"OBGW_DATABASE_URL={shown(url)} is not a usable database URL: {exc}") from None
    try:
        async with engine.connect() as conn:
            current, tables = await conn.run_sync(_revision_and_tables)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseProblem(f"cannot reach the database {shown(url)}: {_first_line(exc)}; "
                              "check OBGW_DATABASE_URL") from None
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current is None:
        detail = "it is empty" if not tables else f"it holds {len(tables)} other table(s) but no obgw schema"
        raise DatabaseProblem(
            f"the database {shown(url)} is not an obgw database ({detail}); run `obgw migrate` with the same "
            "OBGW_DATABASE_URL first, or point OBGW_DATABASE_URL at the gateway's database"
        )
    if current != head:
        raise DatabaseProblem(
            f"the database {shown(url)} is at schema revision {current}, this obgw needs {head}; run `obgw migrate`"
        )


def _revision_and_tables(sync_conn: object) -> tuple[str | None, list[str]]:
    context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
    return context.get_current_revision(), inspect(sync_conn).get_table_names()  # type: ignore[arg-type]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
