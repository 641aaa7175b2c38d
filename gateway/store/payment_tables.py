"""The gateway's record of each payment order it submitted to the bank, keyed by the TPP's idempotency key.

R/W API v3.1.11 profile "Idempotency" (docs/obie-notes.md section 5): the same ``x-idempotency-key`` from the same TPP within
24 hours is a replay and must not create a second resource; PISP profile "Idempotent Payment Order". One row per
(client, key): inserted ``pending`` before the bank is called, completed with the answer the TPP got, so a replay
returns that answer byte for byte and a crash between the bank call and the completion is finished by the next
retry (``gateway.pipeline.payments_store``). ``consent_id`` is unique: a payment consent yields one order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlmodel import Field
from sqlmodel import SQLModel

from gateway.store.db import UTCDateTime


def _ts(*, nullable: bool) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    return Field(sa_column=Column(UTCDateTime(), nullable=False))


class PaymentOrderRecord(SQLModel, table=True):
    __tablename__ = "gateway_payment_order"
    # R/W API "Idempotency": one key per TPP (a key older than 24 h is retired before it is reused).
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key", name="uq_payment_order_idempotency"),)

    record_id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=40)
    request_hash: str = Field(max_length=64)
    kind: str = Field(max_length=48)  # the collection: domestic-payments, domestic-scheduled-payments, ...
    consent_id: str = Field(unique=True, max_length=128)
    psu_id: str = Field(max_length=128)
    account_id: str = Field(max_length=128)
    state: str = Field(max_length=16)  # pending | done
    # Who is calling the bank now, and until when; an expired lease means the caller died (or gave up).
    lease_token: str = Field(max_length=40)
    lease_until: datetime = _ts(nullable=False)
    payment_id: str | None = Field(default=None, unique=True, max_length=64)
    response_status: int | None = Field(default=None)
    response_body: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _ts(nullable=True)
    # What the gateway last learnt of the payment's status from the bank, and when it last asked
    # (gateway.events.payment_status: a change is stored with its resource-update event, docs/architecture.md
    # section 7).
    last_status: str | None = Field(default=None, max_length=48)
    status_checked_at: datetime | None = _ts(nullable=True)


class VrpPaymentRecord(SQLModel, table=True):
    """One variable recurring payment the gateway submitted under a VRP consent (OBIE VRP API v3.1.11
    ``domestic-vrps``): the same idempotency protocol as ``PaymentOrderRecord``, many per consent, each with the
    amount that counts against the consent's control parameters (``consent.vrp_controls``) from ``created_at``,
    when the gateway admitted it."""

    __tablename__ = "gateway_vrp_payment"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key", name="uq_vrp_payment_idempotency"),)

    record_id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=40)
    request_hash: str = Field(max_length=64)
    kind: str = Field(max_length=48)  # domestic-vrps
    consent_id: str = Field(index=True, max_length=128)
    psu_id: str = Field(max_length=128)
    account_id: str = Field(max_length=128)
    # The instructed amount as the TPP sent it (exact decimal text) and its currency.
    amount: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    state: str = Field(max_length=16)  # pending | done
    # False once the bank rejected the payment: it no longer counts against the periodic limits.
    counted: bool = Field(default=True)
    lease_token: str = Field(max_length=40)
    lease_until: datetime = _ts(nullable=False)
    payment_id: str | None = Field(default=None, unique=True, max_length=64)
    response_status: int | None = Field(default=None)
    response_body: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _ts(nullable=True)
    # What the gateway last learnt of the payment's status from the bank, and when it last asked
    # (gateway.events.payment_status: a change is stored with its resource-update event, docs/architecture.md
    # section 7).
    last_status: str | None = Field(default=None, max_length=48)
    status_checked_at: datetime | None = _ts(nullable=True)
