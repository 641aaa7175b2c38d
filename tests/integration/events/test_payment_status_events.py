"""Payment and VRP status changes reach the TPP as ``resource-update`` events (docs/architecture.md section 7;
OBIE Event Notification API v3.1.11): a status the gateway learns from the bank (a sandbox control's answer, a
GET of the payment, the status watcher) is stored with its event in one transaction, once per change, and an
unchanged status records nothing."""

# ruff: noqa: F811  (pytest fixtures imported by name are parameters of the tests below)

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlmodel import select

from consent.notifications import EventNotification
from consent.notifications import EventType
from gateway.backend.bank import Bank
from gateway.events.status_watcher import PaymentStatusWatcher
from gateway.store.payment_tables import PaymentOrderRecord
from gateway.store.payment_tables import VrpPaymentRecord
from tests.helpers.bank import sandbox_transports
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import gateway_app  # noqa: F401
from tests.integration.consent.conftest import obie_specs  # noqa: F401
from tests.integration.consent.conftest import tpp  # noqa: F401
from tests.integration.gateway.conftest import live_bank  # noqa: F401  (fixture)
from tests.integration.payments.test_vrp_payments import approved_vrp
from tests.integration.payments.test_vrp_payments import pay
from tests.integration.test_sandbox_controls import control
from tests.integration.test_sandbox_controls import pending_payment
from tests.integration.test_sandbox_controls import settings  # noqa: F401  (fixture)


async def events_of(db: Any, resource_id: str) -> list[EventNotification]:
    async with db.session() as session:
        return list((await session.exec(
            select(EventNotification).where(EventNotification.resource_id == resource_id)
        )).all())


async def test_creating_a_payment_announces_nothing(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    payment_id, _ = await pending_payment(tpp)
    assert await events_of(db, payment_id) == []
    async with db.session() as session:
        record = (await session.exec(select(PaymentOrderRecord).where(
            PaymentOrderRecord.payment_id == payment_id))).one()
    assert record.last_status == "Pending"


async def test_settling_a_payment_records_exactly_one_resource_update(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    payment_id, _ = await pending_payment(tpp)
    assert (await control(tpp, f"/payments/{payment_id}/settle")).status_code == 200
    # Reading the settled payment, twice, learns nothing new.
    for _ in range(2):
        read = await tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}")
        assert read.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    [event] = await events_of(db, payment_id)
    assert event.event_type == EventType.RESOURCE_UPDATE.value
    assert event.resource_type == "domestic-payment"
    assert event.client_id == tpp.fapi.client_id


async def test_rejecting_a_payment_records_exactly_one_resource_update(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    payment_id, _ = await pending_payment(tpp)
    assert (await control(tpp, f"/payments/{payment_id}/reject")).status_code == 200
    assert (await tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}")).json()["Data"]["Status"] == "Rejected"
    [event] = await events_of(db, payment_id)
    assert (event.event_type, event.resource_type) == (EventType.RESOURCE_UPDATE.value, "domestic-payment")


async def test_an_unchanged_status_read_again_records_nothing(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    payment_id, _ = await pending_payment(tpp)
    for _ in range(3):
        read = await tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}")
        assert read.json()["Data"]["Status"] == "Pending"
    assert await events_of(db, payment_id) == []


async def test_a_vrp_payments_status_change_is_one_resource_update(tpp: Tpp, db) -> None:  # type: ignore[no-untyped-def]
    approved = await approved_vrp(tpp)
    created = await pay(tpp, approved)
    assert created.status_code == 201, created.text
    payment_id = created.json()["Data"]["DomesticVRPId"]
    assert await events_of(db, payment_id) == []
    assert (await control(tpp, f"/payments/{payment_id}/reject")).status_code == 200
    assert (await tpp.call("GET", f"{PISP}/domestic-vrps/{payment_id}")).json()["Data"]["Status"] == "Rejected"
    [event] = await events_of(db, payment_id)
    assert (event.event_type, event.resource_type) == (EventType.RESOURCE_UPDATE.value, "domestic-vrp")
    async with db.session() as session:
        record = (await session.exec(select(VrpPaymentRecord).where(
            VrpPaymentRecord.payment_id == payment_id))).one()
    assert record.counted is False  # a rejected VRP payment stops counting against the limits


async def test_the_watcher_asks_the_bank_and_announces_a_change_once(  # type: ignore[no-untyped-def]
    tpp: Tpp, db, settings, gateway_keys, sandbox_app
) -> None:
    payment_id, _ = await pending_payment(tpp)
    bank = Bank(transport=sandbox_transports(sandbox_app)["bank_transport"], issuer=settings.issuer,
                keys=gateway_keys)
    watcher = PaymentStatusWatcher(db=db, bank=bank, settings=replace(settings, payment_status_batch=5))
    assert await watcher.run_once() == 0  # still Pending at the bank: nothing new
    # The bank moves on without the gateway hearing of it (its own scenario path, not the gateway's control).
    answer = await bank.scenario(path=f"/bank/v1/sandbox/payments/{payment_id}/settle")
    assert answer.status == 200
    assert await watcher.run_once() == 1
    assert await watcher.run_once() == 0  # final now: not asked again, nothing twice
    [event] = await events_of(db, payment_id)
    assert event.resource_type == "domestic-payment"
    assert payment_id not in [r.payment_id for r in await watcher.due(PaymentOrderRecord)]
