"""Exactly-once variable recurring payments, admitted against the consent's control parameters atomically.

OBIE VRP API v3.1.11 ``POST /domestic-vrps``: the idempotency protocol of ``gateway.pipeline.payments_store``
(one record per (client, ``x-idempotency-key``), a lease while the bank is called, takeover after a crash), with
two differences: a VRP consent yields many payments and stays ``Authorised``, and a new record is admitted only
if the payment fits ``Data.ControlParameters`` (``consent.vrp_controls``) counting every payment of the consent
already admitted. Admission runs in the inserting transaction with the consent's row locked, so two payments
racing for the last allowance are decided one after the other, on SQLite and across PostgreSQL replicas: one
wins, the other is refused with ``UK.OBIE.Rules.FailsControlParameters`` and stores nothing.

What counts: every admitted payment, pending or done, from the moment it was admitted. A payment the bank refused
outright is abandoned (its record deleted), which gives its amount back; one the bank created ``Rejected`` (at
once, or later as its status moved) is marked not ``counted`` when the gateway learns of it (``uncount``), which
gives its amount back too (VRP v3.1.11: the limits bound the payments made).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import ClassVar

from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import vrp_controls
from consent.models import Consent
from consent.vrp_controls import Allowance
from consent.vrp_controls import ControlParameters
from consent.vrp_controls import Counted
from gateway.pipeline.payments_store import Admission
from gateway.pipeline.payments_store import PaymentOrderStore
from gateway.pipeline.payments_store import retrying
from gateway.store.payment_tables import VrpPaymentRecord


class VrpPaymentStore(PaymentOrderStore):
    table: ClassVar[type[Any]] = VrpPaymentRecord
    one_per_consent: ClassVar[bool] = False
    consume_on_complete: ClassVar[bool] = False

    async def counted(self, session: AsyncSession, *, consent_id: str, since: datetime) -> list[Counted]:
        rows = (await session.exec(
            select(VrpPaymentRecord.created_at, VrpPaymentRecord.amount)
            .where(col(VrpPaymentRecord.consent_id) == consent_id, col(VrpPaymentRecord.created_at) >= since,
                   col(VrpPaymentRecord.counted).is_(True))
        )).all()
        return [Counted(at=at, amount=Decimal(amount)) for at, amount in rows]

    async def with_consent(self, *, payment_id: str) -> tuple[VrpPaymentRecord | None, Consent | None]:
        """The payment's record and its consent, in one query (a status read needs the consent's Risk)."""
        async with self._db.session() as session:
            row = (await session.exec(
                select(VrpPaymentRecord, Consent)
                .join(Consent, col(Consent.consent_id) == col(VrpPaymentRecord.consent_id), isouter=True)
                .where(col(VrpPaymentRecord.payment_id) == payment_id)
            )).first()
        return (row[0], row[1]) if row is not None else (None, None)

    async def uncount(self, *, payment_id: str) -> None:
        """The bank rejected this payment: its amount stops counting (idempotent)."""
        async def run() -> None:
            async with self._db.session() as session:
                await session.exec(
                    update(VrpPaymentRecord).where(col(VrpPaymentRecord.payment_id) == payment_id,
                                                   col(VrpPaymentRecord.counted).is_(True))
                    .values(counted=False).execution_options(synchronize_session=False)
                )
                await session.commit()

        await retrying(run)

    def admission(
        self, *, consent_id: str, controls: ControlParameters, anchor: datetime, amount: Decimal, currency: str,
        interaction_type: str | None, admitted: list[Allowance],
    ) -> Admission:
        """The ``acquire`` hook that refuses a payment the controls do not allow; on admission ``admitted`` holds
        the allowances with this payment counted (for the TPP's remaining-allowance headers)."""

        async def admit(session: AsyncSession, at: datetime) -> dict[str, Any]:
            starts = [vrp_controls.period_of(limit=limit, anchor=anchor, at=at)[0]
                      for limit in controls.periodic_limits]
            history = await self.counted(session, consent_id=consent_id, since=min(starts, default=at))
            admitted[:] = vrp_controls.check_payment(
                controls=controls, anchor=anchor, at=at, amount=amount, currency=currency,
                interaction_type=interaction_type, counted=history,
            )
            return {"amount": str(amount), "currency": currency}

        return admit

    async def allowances(
        self, *, consent_id: str, controls: ControlParameters, anchor: datetime, at: datetime
    ) -> list[Allowance]:
        """What is used and left of each periodic limit at ``at`` (for the TPP and the customer's dashboard)."""
        starts = [vrp_controls.period_of(limit=limit, anchor=anchor, at=at)[0] for limit in controls.periodic_limits]
        async with self._db.session() as session:
            history = await self.counted(session, consent_id=consent_id, since=min(starts, default=at))
        return vrp_controls.allowances(controls=controls, anchor=anchor, at=at, counted=history)


def allowance_headers(allowances: list[Allowance]) -> Mapping[str, str]:
    """The remaining allowance of each periodic limit, where the VRP v3.1.11 response has no field for it: one
    ``x-obgw-vrp-remaining`` header, ``{PeriodAlignment}-{PeriodType}={Amount} {Currency}`` per limit."""
    if not allowances:
        return {}
    return {"x-obgw-vrp-remaining": ", ".join(
        f"{a.limit.alignment}-{a.limit.period_type}={a.remaining} {a.limit.currency}" for a in allowances)}
