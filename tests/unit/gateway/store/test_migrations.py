"""The alembic revisions build exactly the schema the models describe (``obgw migrate`` is the only way
schemas change in a real deployment)."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from gateway.store.migrate import alembic_config
from gateway.store.migrate import upgrade


def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    # alembic check raises when autogenerate would produce any operation.
    command.check(alembic_config(url))


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    upgrade(url)
    upgrade(url)
