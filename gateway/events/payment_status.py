"""A payment's status as the gateway last learnt it from the bank, stored with its ``resource-update`` event in
one transaction (OBIE Event Notification API v3.1.11, docs/obie-notes-vrp-events.md section 3; docs/architecture.md
section 7, "Outbox").

The gateway learns a payment's status when the TPP reads the payment, when a sandbox control's answer names it,
and from the status watcher (``gateway.events.status_watcher``). ``learn`` compares it with the stored
``last_status`` and, when it differs, stores the new one and records one
``urn:uk:org:openbanking:events:resource-update`` event for the payment (rty ``domestic-payment``,
``domestic-vrp``, ... as ``gateway.events.tokens`` names them) in the same transaction: a compare-and-set on the
old status, so two replicas learning the same change at once emit it once, and an unchanged status emits
nothing. The first status the gateway stores is the one the TPP got when it created the payment
(``baseline``): a change the TPP made itself emits nothing. A VRP payment the bank reports ``Rejected`` stops
counting against its consent's limits in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select

from consent import notifications
from consent.notifications import EventType
from gateway.events.tokens import PAYMENT_COLLECTIONS
from gateway.store.db import Database
from gateway.store.payment_tables import PaymentOrderRecord
from gateway.store.payment_tables import VrpPaymentRecord

PaymentTable = type[PaymentOrderRecord] | type[VrpPaymentRecord]

# The OBIE rty of each collection (the inverse of gateway.events.tokens.PAYMENT_COLLECTIONS).
RESOURCE_TYPES: Final[Mapping[str, str]] = {collection: rty for rty, (_, collection) in PAYMENT_COLLECTIONS.items()}
# Statuses after which the bank changes nothing (OBTransactionIndividualStatus1Code and the standing-order and
# scheduled-payment codes): the watcher stops asking.
FINAL_STATUSES: Final = frozenset({
    "AcceptedSettlementCompleted", "AcceptedCreditSettlementCompleted", "Rejected", "InitiationCompleted",
    "InitiationFailed", "Cancelled",
})
REJECTED: Final = "Rejected"


VRP_COLLECTION: Final = PAYMENT_COLLECTIONS["domestic-vrp"][1]


def table_of(collection: str) -> PaymentTable:
    """VRP payments have their own table; the payment orders share one."""
    return VrpPaymentRecord if collection == VRP_COLLECTION else PaymentOrderRecord


async def baseline(*, db: Database, collection: str, payment_id: str, status: object, at: datetime) -> None:
    """The status the TPP got when it created the payment: stored only if none is, and announced to nobody."""
    if not isinstance(status, str) or not status:
        return
    table = table_of(collection)
    async with db.session() as session:
        await session.exec(
            update(table).where(col(table.payment_id) == payment_id, col(table.last_status).is_(None))
            .values(last_status=status, status_checked_at=at).execution_options(synchronize_session=False)
        )
        await session.commit()


async def learn(
    *, db: Database, collection: str, payment_id: str, status: object, at: datetime, txn: str = "",
    record: PaymentOrderRecord | VrpPaymentRecord | None = None,
) -> bool:
    """The bank says the payment is now ``status``: store it, and when it changed record the TPP's event in the
    same transaction. Returns whether an event was recorded. ``record``: the payment's row when the caller has
    already read it (its owner and stored status are taken from it, not read again; the compare-and-set below
    still decides)."""
    if not isinstance(status, str) or not status:
        return False  # nothing learnt (a payment-details document names its statuses otherwise)
    table = table_of(collection)
    async with db.session() as session:
        if record is not None:
            row: tuple[str, str | None] | None = (record.client_id, record.last_status)
        else:
            row = (await session.exec(
                select(table.client_id, table.last_status).where(col(table.payment_id) == payment_id)
            )).first()
        if row is None:
            return False
        client_id, previous = row
        if status == previous:
            await session.exec(
                update(table).where(col(table.payment_id) == payment_id).values(status_checked_at=at)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            return False
        unchanged = col(table.last_status).is_(None) if previous is None else col(table.last_status) == previous
        values: dict[str, object] = {"last_status": status, "status_checked_at": at}
        if table is VrpPaymentRecord and status == REJECTED:
            values["counted"] = False
        result = await session.exec(
            update(table).where(col(table.payment_id) == payment_id, unchanged).values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # another replica stored this change first: its event is the one
            await session.rollback()
            return False
        announced = previous is not None
        if announced:
            notifications.record(
                session=session, client_id=client_id, event_type=EventType.RESOURCE_UPDATE,
                resource_type=RESOURCE_TYPES[collection], resource_id=payment_id, at=at, txn=txn,
            )
        await session.commit()
    return announced
