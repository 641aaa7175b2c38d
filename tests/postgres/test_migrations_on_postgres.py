"""The alembic revisions build on PostgreSQL exactly the schema the models describe (the same revisions as
SQLite: ``obgw migrate`` is the only way a schema changes)."""

from __future__ import annotations

from alembic import command

from gateway.store.migrate import alembic_config
from gateway.store.migrate import upgrade


def test_alembic_check_passes_on_postgres(postgres_url: str) -> None:
    # alembic check raises when autogenerate would produce any operation.
    command.check(alembic_config(postgres_url))


def test_upgrade_is_idempotent_on_postgres(postgres_url: str) -> None:
    upgrade(postgres_url)
    command.check(alembic_config(postgres_url))
