"""The gateway's event-notification tables: each TPP's event subscription and the log of delivery attempts.

OBIE Event Notification API v3.1.11 (docs/obie-notes-vrp-events.md section 3): a TPP holds at most one event
subscription (a second POST is 409), naming the ``CallbackUrl`` the bank pushes Security Event Tokens to and the
``EventTypes`` it wants (none listed: all). The events themselves are the outbox rows of
``consent.notifications.EventNotification``; each push attempt, and each poll that handed an event over, is one
``EventDeliveryAttempt`` row: the TPP's delivery log (docs/architecture.md section 7).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Column
from sqlmodel import Field
from sqlmodel import SQLModel

from gateway.store.db import UTCDateTime


def _ts() -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=False))


class EventSubscription(SQLModel, table=True):
    __tablename__ = "gateway_event_subscription"

    subscription_id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(unique=True, max_length=64)
    callback_url: str | None = Field(default=None, max_length=512)
    version: str = Field(max_length=10)
    event_types: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class EventDeliveryAttempt(SQLModel, table=True):
    __tablename__ = "gateway_event_delivery"

    attempt_id: int | None = Field(default=None, primary_key=True)
    jti: str = Field(index=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    attempt: int
    at: datetime = _ts()
    channel: str = Field(max_length=16)  # push | poll
    url: str = Field(default="", max_length=512)
    outcome: str = Field(max_length=16)  # delivered | retry | failed | refused | acknowledged
    status_code: int | None = Field(default=None)
    latency_ms: int = Field(default=0)
    error: str = Field(default="", max_length=512)
    replay: bool = Field(default=False)
