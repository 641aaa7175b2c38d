"""``obgw_consent_changes_total`` counts a consent change when its transaction commits (docs/production.md section
5): never one that rolls back, never an access event, and only on the databases the gateway watches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest

from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import append_event
from gateway.observability import consent_changes
from gateway.observability import metrics
from gateway.store.db import Database

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _count(event: str, actor: str) -> float:
    value = metrics.metrics().registry.get_sample_value("obgw_consent_changes_total", {"event": event, "actor": actor})
    return 0.0 if value is None else value


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'changes.db'}")
    await database.create_all()
    yield database
    await database.dispose()


async def _append(db: Database, event: EventType, *, commit: bool) -> None:
    async with db.session() as session:
        await append_event(session=session, consent_id="c-1", event=event, actor_type=ActorType.SYSTEM,
                           actor_id="", at=NOW)
        if commit:
            await session.commit()
        else:
            await session.rollback()


async def test_a_committed_change_is_counted_once_and_a_rolled_back_one_never(db: Database) -> None:
    consent_changes.watch(db)
    consent_changes.watch(db)  # watching twice still counts once
    before = _count("expired", "system")
    await _append(db, EventType.EXPIRED, commit=False)
    assert _count("expired", "system") == before
    await _append(db, EventType.EXPIRED, commit=True)
    assert _count("expired", "system") == before + 1


async def test_access_events_are_not_consent_changes(db: Database) -> None:
    consent_changes.watch(db)
    before = _count("accessed", "system")
    await _append(db, EventType.ACCESSED, commit=True)
    assert _count("accessed", "system") == before == 0


async def test_a_database_nobody_watches_counts_nothing(db: Database) -> None:
    before = _count("revoked", "system")
    await _append(db, EventType.REVOKED, commit=True)
    assert _count("revoked", "system") == before
