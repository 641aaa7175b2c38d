"""The payment status watcher: asks the bank, in batches, for the status of every payment not yet final, so a
change the TPP did not read reaches it as a ``resource-update`` event (docs/architecture.md section 7; OBIE Event
Notification API v3.1.11, docs/obie-notes-vrp-events.md section 3).

One per gateway process, next to the delivery worker (``create_app(start_event_worker=True)``, what ``obgw up``
and ``obgw serve`` do when ``OBGW_EVENT_DELIVERY`` is on). Every ``OBGW_PAYMENT_STATUS_INTERVAL_MS`` it takes up
to ``OBGW_PAYMENT_STATUS_BATCH`` submitted payment orders and VRP payments whose last known status is not final,
the longest unasked first (``status_checked_at``, so every payment gets its turn), asks the bank for each, and
hands the answer to ``gateway.events.payment_status.learn``: a changed status is stored with its event in one
transaction, an unchanged one only marks the payment asked. Replicas may ask about the same payment at once;
the compare-and-set in ``learn`` still records each change once. A bank that fails is asked again next round.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import col
from sqlmodel import select

from gateway.backend.bank import Bank
from gateway.events import payment_status
from gateway.events.payment_status import FINAL_STATUSES
from gateway.events.payment_status import PaymentTable
from gateway.events.periodic import PeriodicJob
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.db import utcnow
from gateway.store.payment_tables import PaymentOrderRecord
from gateway.store.payment_tables import VrpPaymentRecord

log = logging.getLogger("obgw.events")
DONE = "done"  # the idempotency record's state once the bank created the payment


class PaymentStatusWatcher(PeriodicJob):
    name = "payment status"

    def __init__(
        self, *, db: Database, bank: Bank, settings: Settings, clock: Callable[[], datetime] = utcnow
    ) -> None:
        super().__init__(interval_ms=settings.payment_status_interval_ms)
        self.db = db
        self.bank = bank
        self.batch = settings.payment_status_batch
        self.clock = clock

    async def due(self, table: PaymentTable) -> list[PaymentOrderRecord | VrpPaymentRecord]:
        query = (
            select(table)
            .where(col(table.state) == DONE, col(table.payment_id).is_not(None),
                   or_(col(table.last_status).is_(None), col(table.last_status).not_in(FINAL_STATUSES)))
            .order_by(col(table.status_checked_at).asc().nulls_first(), col(table.created_at))
            .limit(self.batch)
        )
        async with self.db.session() as session:
            return list((await session.exec(query)).all())

    async def run_once(self) -> int:
        """Ask the bank about one batch of each table; returns how many events were recorded."""
        records = [*await self.due(PaymentOrderRecord), *await self.due(VrpPaymentRecord)]
        results = await asyncio.gather(*(self._ask(record) for record in records), return_exceptions=True)
        for failure in (r for r in results if isinstance(r, BaseException)):
            log.warning("payment status not read: %s", failure)
        return sum(1 for r in results if r is True)

    async def _ask(self, record: PaymentOrderRecord | VrpPaymentRecord) -> bool:
        assert record.payment_id is not None
        txn = str(uuid.uuid4())
        data = await self.bank.read_payment(collection=record.kind, payment_id=record.payment_id,
                                            consent_id=record.consent_id, psu_id=record.psu_id, details=False,
                                            interaction_id=txn)
        status = data.get("Status") if data is not None else None
        if status is None:  # unknown to the bank (or no status): asked all the same, so the others get a turn
            status = record.last_status
        return await payment_status.learn(db=self.db, collection=record.kind, payment_id=record.payment_id,
                                          status=status, at=self.clock(), txn=txn, record=record)
