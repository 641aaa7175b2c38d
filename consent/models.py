"""Consent tables: the consents themselves, the accounts each covers, and the hash-chained audit trail.

They share ``SQLModel.metadata`` with the gateway's tables so one ``create_all`` or one alembic run creates
every table; names carry the ``consent_`` prefix. Every datetime is timezone-aware UTC, on SQLite too.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field
from sqlmodel import SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend: SQLite stores naive text, so UTC is re-attached on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Fail closed: a naive datetime is ambiguous, never guess its zone.
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


def _json(*, nullable: bool = False, default_factory: Any = dict) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


class Consent(SQLModel, table=True):
    """One OBIE consent (account-access, payment-order or funds-confirmation), as the TPP sent it.

    ``data``/``risk`` keep the request's ``Data``/``Risk`` exactly as received: a payment order must carry the
    same Initiation and Risk as its consent (R/W API: ``UK.OBIE.Resource.ConsentMismatch``), and the ASPSP must
    not modify ``ExpirationDateTime`` (AISP profile "Expiration Date Time").
    """

    __tablename__ = "consent_consent"
    # R/W API "Idempotency": one key per TPP; a key older than 24 h is retired before it is reused.
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key", name="uq_consent_idempotency"),)

    consent_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(index=True, max_length=48)
    client_id: str = Field(index=True, max_length=64)
    psu_id: str | None = Field(default=None, index=True, max_length=128)
    status: str = Field(index=True, max_length=32)
    permissions: list[str] = _json(default_factory=list)
    expires_at: datetime | None = _ts(nullable=True)
    transaction_from: datetime | None = _ts(nullable=True)
    transaction_to: datetime | None = _ts(nullable=True)
    data: dict[str, Any] = _json()
    risk: dict[str, Any] = _json()
    debtor_account: dict[str, Any] | None = _json(nullable=True)
    created_at: datetime = _ts(nullable=False)
    status_updated_at: datetime = _ts(nullable=False)
    authorised_at: datetime | None = _ts(nullable=True)
    # The customer's latest re-authentication of this Authorised consent (same id, new tokens).
    reauthorised_at: datetime | None = _ts(nullable=True)
    # The approval whose 90-day reconfirmation was announced to the TPP (consent.reconfirmation_notices): a
    # later approval starts a new period, announced again when it is due.
    reconfirmation_announced_for: datetime | None = _ts(nullable=True)
    idempotency_key: str | None = Field(default=None, max_length=40)
    request_hash: str | None = Field(default=None, max_length=128)
    last_accessed_at: datetime | None = _ts(nullable=True)


class ConsentAccount(SQLModel, table=True):
    """An account the customer chose to share under a consent (the AISP cannot pre-select: AISP profile)."""

    __tablename__ = "consent_account"

    consent_id: str = Field(primary_key=True, max_length=128, foreign_key="consent_consent.consent_id")
    account_id: str = Field(primary_key=True, max_length=128)


class ConsentEvent(SQLModel, table=True):
    """One link of the append-only audit chain (see ``consent.audit``).

    ``seq`` and ``prev_hash`` are unique, so two appenders that read the same head cannot both commit: the chain
    cannot fork.
    """

    __tablename__ = "consent_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    consent_id: str = Field(index=True, max_length=128)
    event: str = Field(max_length=32)
    actor_type: str = Field(max_length=16)
    actor_id: str = Field(default="", max_length=128)
    at: datetime = _ts(nullable=False)
    detail: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class AuditCheckpoint(SQLModel, table=True):
    """One pruning of the chain's oldest events (``consent.audit_retention``; docs/architecture.md section 8.2).

    ``through_seq`` and ``through_hash`` are the last pruned event's seq and hash: the first kept event links to
    that hash, so verification starts there instead of at the genesis. Checkpoints are never deleted and are
    themselves hash-chained (``prev_hash`` is the previous checkpoint's ``hash``, the genesis for the first).
    """

    __tablename__ = "consent_audit_checkpoint"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    through_seq: int = Field(unique=True)
    through_hash: str = Field(max_length=64)
    through_at: datetime = _ts(nullable=False)
    before: datetime = _ts(nullable=False)
    pruned: int
    created_at: datetime = _ts(nullable=False)
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The chain's head (last seq and hash) in a single row.

    Appenders update this row first: on PostgreSQL the row lock, on SQLite the write lock, serialises them, so
    the head each one reads is the latest.
    """

    __tablename__ = "consent_audit_head"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(default=0)
    hash: str = Field(max_length=64)
