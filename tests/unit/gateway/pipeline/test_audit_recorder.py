"""The access recorder stores a burst of served calls in one transaction, in order, on an intact hash chain;
a batch that cannot be stored whole falls back to one event at a time, so one bad event loses no others."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from consent import audit
from consent import service
from consent.models import ConsentEvent
from gateway.pipeline.audit import AccessRecorder
from gateway.store.db import Database

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await db.create_all()
    return db


async def _authorised(db: Database, *, client_id: str = "tpp") -> str:
    async with db.session() as session:
        consent = await service.create_account_access_consent(
            session=session, client_id=client_id, risk={}, now=NOW,
            data={"Permissions": ["ReadAccountsBasic", "ReadBalances"]},
        )
        await service.authorise(session=session, consent_id=consent.consent_id, client_id=client_id, psu_id="psu",
                                account_ids=["a1"], available_account_ids=["a1"], now=NOW)
        return consent.consent_id


async def test_a_burst_is_recorded_in_order_on_an_intact_chain(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    consent_id = await _authorised(db)
    recorder = AccessRecorder(db=db)
    for i in range(50):
        await recorder.record(consent_id=consent_id, client_id="tpp", endpoint=f"/accounts/{i}",
                              customer_present=i % 2 == 0, at=NOW + timedelta(seconds=i))
    await recorder.close()
    async with db.session() as session:
        accessed = (await session.exec(select(ConsentEvent).where(ConsentEvent.event == "accessed")
                                       .order_by(ConsentEvent.seq))).all()  # type: ignore[arg-type]
        report = await audit.verify_chain(session=session)
    assert [e.detail["endpoint"] for e in accessed] == [f"/accounts/{i}" for i in range(50)]
    assert report.ok and report.events == 52
    assert recorder.failed == []
    await db.dispose()


async def test_one_unrecordable_event_does_not_lose_the_rest_of_its_batch(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    consent_id = await _authorised(db)
    recorder = AccessRecorder(db=db, backoff=0.0)
    await recorder.record(consent_id=consent_id, client_id="tpp", endpoint="/accounts", customer_present=True, at=NOW)
    await recorder.record(consent_id="no-such-consent", client_id="tpp", endpoint="/x", customer_present=True, at=NOW)
    await recorder.record(consent_id=consent_id, client_id="tpp", endpoint="/balances", customer_present=False, at=NOW)
    await recorder.close()
    async with db.session() as session:
        accessed = (await session.exec(select(ConsentEvent).where(ConsentEvent.event == "accessed"))).all()
    assert sorted(e.detail["endpoint"] for e in accessed) == ["/accounts", "/balances"]
    assert [e.consent_id for e in recorder.failed] == ["no-such-consent"]
    await db.dispose()
