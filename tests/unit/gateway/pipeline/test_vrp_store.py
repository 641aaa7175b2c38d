"""VRP payments admitted against the control parameters atomically (OBIE VRP v3.1.11 ``POST /domestic-vrps``):
payments racing for the last allowance, one wins; a refused payment stores nothing; a refused order gives its
amount back; a replayed key answers without counting again. On SQLite, and on PostgreSQL when it answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.vrp_controls import Allowance
from consent.vrp_controls import FailsControlParameters
from consent.vrp_controls import parse
from gateway.pipeline.payments_store import StoredAnswer
from gateway.pipeline.vrp_store import VrpPaymentStore
from gateway.pipeline.vrp_store import allowance_headers
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from gateway.store.payment_tables import VrpPaymentRecord
from tests.postgres.services import POSTGRES_ENV
from tests.postgres.services import fresh_database
from tests.postgres.services import require

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
CONTROLS = {
    "VRPType": ["UK.OBIE.VRPType.Sweeping"],
    "PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
    "MaximumIndividualAmount": {"Amount": "100.00", "Currency": "GBP"},
    "PeriodicLimits": [{"PeriodType": "Month", "PeriodAlignment": "Calendar", "Amount": "100.00", "Currency": "GBP"}],
}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with fresh_database(require(POSTGRES_ENV)) as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'vrp.db'}"
    upgrade(url)
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.engine.dispose()


async def _consent(db: Database) -> str:
    consent_id = f"vrp-{uuid.uuid4().hex}"
    async with db.session() as session:
        session.add(Consent(consent_id=consent_id, kind="domestic-vrp", client_id="tpp", psu_id="alice",
                            status=ConsentStatus.AUTHORISED, data={"ControlParameters": CONTROLS}, risk={},
                            created_at=NOW - timedelta(days=30), status_updated_at=NOW - timedelta(days=30)))
        await session.commit()
    return consent_id


async def _pay(store: VrpPaymentStore, consent_id: str, *, amount: str, key: str | None = None,
               admitted: list[Allowance] | None = None):  # type: ignore[no-untyped-def]
    controls = parse(CONTROLS)
    return await store.acquire(
        client_id="tpp", key=key or uuid.uuid4().hex[:40], request_hash="h" * 64, kind="domestic-vrps",
        consent_id=consent_id, psu_id="alice", account_id="acc-1", now=lambda: NOW,
        admit=store.admission(consent_id=consent_id, controls=controls, anchor=NOW - timedelta(days=30),
                              amount=Decimal(amount), currency="GBP", interaction_type=None,
                              admitted=admitted if admitted is not None else []),
    )


async def _records(db: Database, consent_id: str) -> list[VrpPaymentRecord]:
    async with db.session() as session:
        return list((await session.exec(select(VrpPaymentRecord).where(
            VrpPaymentRecord.consent_id == consent_id))).all())


async def test_payments_racing_for_the_last_allowance_admit_exactly_one(db: Database) -> None:
    store = VrpPaymentStore(db=db, window=timedelta(hours=24))
    consent_id = await _consent(db)
    assert (await _pay(store, consent_id, amount="90.00")).owner
    results = await asyncio.gather(*(_pay(store, consent_id, amount="10.00") for _ in range(8)),
                                   return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, FailsControlParameters)]
    assert (len(won), len(refused)) == (1, 7), results
    assert sorted(r.amount for r in await _records(db, consent_id)) == ["10.00", "90.00"]


async def test_a_refused_payment_stores_nothing(db: Database) -> None:
    store = VrpPaymentStore(db=db, window=timedelta(hours=24))
    consent_id = await _consent(db)
    with pytest.raises(FailsControlParameters):
        await _pay(store, consent_id, amount="100.01")
    assert await _records(db, consent_id) == []


async def test_exactly_the_period_limit_is_admitted_and_reported_as_spent(db: Database) -> None:
    store = VrpPaymentStore(db=db, window=timedelta(hours=24))
    consent_id = await _consent(db)
    admitted: list[Allowance] = []
    await _pay(store, consent_id, amount="60.00")
    await _pay(store, consent_id, amount="40.00", admitted=admitted)
    assert [a.remaining for a in admitted] == [Decimal("0.00")]
    assert allowance_headers(admitted) == {"x-obgw-vrp-remaining": "Calendar-Month=0.00 GBP"}
    left = await store.allowances(consent_id=consent_id, controls=parse(CONTROLS), anchor=NOW, at=NOW)
    assert [a.used for a in left] == [Decimal("100.00")]


async def test_an_order_the_bank_refused_gives_its_amount_back(db: Database) -> None:
    store = VrpPaymentStore(db=db, window=timedelta(hours=24))
    consent_id = await _consent(db)
    claim = await _pay(store, consent_id, amount="100.00")
    await store.abandon(claim)
    assert (await _pay(store, consent_id, amount="100.00")).owner


async def test_a_replayed_key_answers_the_first_outcome_without_counting_again(db: Database) -> None:
    store = VrpPaymentStore(db=db, window=timedelta(hours=24))
    consent_id = await _consent(db)
    claim = await _pay(store, consent_id, amount="100.00", key="key-1")
    answer = StoredAnswer(status=201, body=b'{"Data":{}}', payment_id="vrp-pay-1")
    await store.complete(claim, answer=answer, consent_id=consent_id, client_id="tpp", at=NOW)
    replay = await _pay(store, consent_id, amount="100.00", key="key-1")
    assert replay.answer == answer
    async with db.session() as session:
        consent = await session.get(Consent, consent_id)
    assert consent is not None and consent.status == ConsentStatus.AUTHORISED  # a VRP consent is not consumed
    assert len(await _records(db, consent_id)) == 1
