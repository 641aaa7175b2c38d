"""The event-notification outbox: what changed, for which TPP, written in the transaction of the change.

OBIE Event Notification API v3.1.11 (docs/obie-notes-vrp-events.md section 3): the bank tells a TPP that one of
its resources changed without the TPP asking. This module owns the outbox half of that (docs/architecture.md
section 7): ``record`` adds one ``EventNotification`` row to the caller's session and never commits, so the row
is stored together with the change that caused it, or not at all (a rolled-back revocation leaves no event, a
committed one cannot lose its event). What the gateway does with a row afterwards (the signed Security Event
Token, the push to the TPP's callback, polling, retries, the delivery log) is the gateway's and writes only the
delivery columns below.

Event types are the OBIE URNs; the event's ``jti`` is chosen here, once, so every delivery attempt and every
replay of the event carries the same one (the TPP de-duplicates on it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any
from typing import Final

from sqlalchemy import Column
from sqlalchemy import Index
from sqlmodel import Field
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from consent.lifecycle import ConsentKind
from consent.models import Consent
from consent.models import UTCDateTime


class EventType(StrEnum):
    """The OBIE event URNs (Event Notification API Profile v3.1.11)."""

    RESOURCE_UPDATE = "urn:uk:org:openbanking:events:resource-update"
    CONSENT_AUTHORIZATION_REVOKED = "urn:uk:org:openbanking:events:consent-authorization-revoked"
    LINKED_ACCOUNT_UPDATE = "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for a push attempt (or for the TPP to poll)
    POLL = "poll"  # the TPP has no callback: held for aggregated polling
    SKIPPED = "skipped"  # the TPP's subscription leaves this event type out
    DELIVERED = "delivered"  # the callback answered 2xx
    ACKNOWLEDGED = "acknowledged"  # the TPP acknowledged it by polling (ack)
    REFUSED = "refused"  # the TPP answered it with a setErr while polling
    FAILED = "failed"  # the push gave up after the last retry (still in the log, can be replayed)


def _ts(*, nullable: bool) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    return Field(sa_column=Column(UTCDateTime(), nullable=False))


class EventNotification(SQLModel, table=True):
    """One event for one TPP. ``seq`` orders a TPP's events; ``jti`` names the event on the wire."""

    __tablename__ = "event_notification"
    __table_args__ = (
        # The worker's claim: due events in order; the TPP's polling and log: its own events in order.
        Index("ix_event_notification_due", "state", "next_attempt_at"),
        Index("ix_event_notification_client", "client_id", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    jti: str = Field(max_length=40, unique=True)
    client_id: str = Field(max_length=64)
    event_type: str = Field(max_length=96)
    resource_type: str = Field(max_length=64)  # the OBIE rty: account-access-consent, domestic-payment, ...
    resource_id: str = Field(max_length=128)
    txn: str = Field(max_length=128)  # the change's transaction id (the interaction id, when one caused it)
    occurred_at: datetime = _ts(nullable=False)  # toe
    created_at: datetime = _ts(nullable=False)
    # Delivery columns: written by the gateway's delivery worker and polling endpoint only.
    state: str = Field(default=DeliveryState.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False)
    lease_until: datetime | None = _ts(nullable=True)
    delivered_at: datetime | None = _ts(nullable=True)
    last_error: str = Field(default="", max_length=512)


CONSENT_RESOURCE_TYPES: Final = {kind: f"{kind.value}-consent" for kind in ConsentKind}


def record(
    *,
    session: AsyncSession,
    client_id: str,
    event_type: EventType,
    resource_type: str,
    resource_id: str,
    at: datetime,
    txn: str = "",
) -> EventNotification:
    """Add one event to the caller's transaction (the caller commits, or rolls back and the event is gone)."""
    jti = uuid.uuid4().hex
    event = EventNotification(
        jti=jti,
        client_id=client_id,
        event_type=event_type.value,
        resource_type=resource_type,
        resource_id=resource_id,
        txn=txn or jti,
        occurred_at=at,
        created_at=at,
        next_attempt_at=at,
    )
    session.add(event)
    return event


def record_consent_change(
    *, session: AsyncSession, consent: Consent, event_type: EventType, at: datetime, txn: str = ""
) -> EventNotification:
    """The consent ``consent`` changed (revoked, expired, its accounts): tell the TPP that owns it."""
    return record(
        session=session,
        client_id=consent.client_id,
        event_type=event_type,
        resource_type=CONSENT_RESOURCE_TYPES[ConsentKind(consent.kind)],
        resource_id=consent.consent_id,
        at=at,
        txn=txn,
    )
