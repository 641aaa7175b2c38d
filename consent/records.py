"""Loading consents and changing their status inside one database transaction with its audit event.

Shared by the consent operations (``consent.creation``, ``consent.status_changes``, ``consent.access``).
Status changes are conditional updates (``WHERE status = <start>``): of two concurrent changes from the same
status only one succeeds, the other gets ``InvalidConsentStatus`` (docs/architecture.md section 4).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import append_event
from consent.errors import ConsentForbidden
from consent.errors import ConsentNotFound
from consent.errors import InvalidConsentStatus
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import check_transition
from consent.models import Consent
from consent.models import ConsentAccount
from consent.notifications import EventType as NotificationType
from consent.notifications import record_consent_change

S = ConsentStatus
K = ConsentKind


@asynccontextmanager
async def transaction(session: AsyncSession) -> AsyncIterator[None]:
    try:
        yield
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


def is_expired(consent: Consent, now: datetime) -> bool:
    return consent.expires_at is not None and consent.expires_at <= now


async def add_created(session: AsyncSession, consent: Consent, *, detail: dict[str, Any]) -> None:
    """Insert a new consent and its ``created`` event in the caller's transaction (the TPP is the actor)."""
    session.add(consent)
    await session.flush()
    await append_event(
        session=session,
        consent_id=consent.consent_id,
        event=EventType.CREATED,
        actor_type=ActorType.TPP,
        actor_id=consent.client_id,
        at=consent.created_at,
        detail=detail,
    )


async def load(session: AsyncSession, consent_id: str) -> Consent | None:
    return await session.get(Consent, consent_id)


@functools.cache
def _consent_with_accounts() -> Select[tuple[Consent, str | None]]:
    """Built once: composing the statement costs more than running it (the hot path runs it on every call)."""
    return (
        select(Consent, ConsentAccount.account_id)
        .outerjoin(ConsentAccount, col(ConsentAccount.consent_id) == col(Consent.consent_id))
        .where(col(Consent.consent_id) == bindparam("consent_id"))
        .order_by(col(ConsentAccount.account_id))
    )


async def load_with_accounts(session: AsyncSession, consent_id: str) -> tuple[Consent | None, tuple[str, ...]]:
    rows = (await session.exec(_consent_with_accounts(), params={"consent_id": consent_id})).all()
    if not rows:
        return None, ()
    return rows[0][0], tuple(account for _, account in rows if account is not None)


async def account_ids(session: AsyncSession, consent_id: str) -> tuple[str, ...]:
    rows = await session.exec(
        select(ConsentAccount.account_id)
        .where(ConsentAccount.consent_id == consent_id)
        .order_by(col(ConsentAccount.account_id))
    )
    return tuple(rows.all())


async def set_status(
    session: AsyncSession, consent: Consent, to: ConsentStatus, *, now: datetime, **values: Any
) -> None:
    """Persist a transition as a conditional update: it applies only if nobody changed the status meanwhile."""
    start = consent.status
    check_transition(consent_id=consent.consent_id, kind=consent.kind, start=start, to=to)
    statement = (
        update(Consent)
        .where(col(Consent.consent_id) == consent.consent_id, col(Consent.status) == start)
        .values(status=to.value, status_updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(statement)
    if result.rowcount != 1:
        raise InvalidConsentStatus(
            "Consent status changed", detail=f"{consent.consent_id}: lost the race {start} -> {to}"
        )
    for name, value in {"status": to.value, "status_updated_at": now, **values}.items():
        set_committed_value(consent, name, value)


async def owned(session: AsyncSession, *, consent_id: str, client_id: str) -> Consent:
    return check_owned(await load(session, consent_id), consent_id=consent_id, client_id=client_id)


def check_owned(consent: Consent | None, *, consent_id: str, client_id: str) -> Consent:
    """``consent`` (already loaded) if it is the client's own and not deleted; else the error ``owned`` raises."""
    # R/W API: GET after DELETE answers 400 NotFound, like an id that never existed.
    if consent is None or consent.status == S.DELETED:
        raise ConsentNotFound("Consent not found", detail=consent_id)
    if consent.client_id != client_id:
        raise ConsentForbidden("Consent belongs to another client", detail=f"{consent_id} asked by {client_id}")
    return consent


async def mark_expired(session: AsyncSession, consent: Consent, *, now: datetime) -> bool:
    try:
        await set_status(session, consent, S.EXPIRED, now=now)
    except InvalidConsentStatus:
        return False
    await append_event(
        session=session,
        consent_id=consent.consent_id,
        event=EventType.EXPIRED,
        actor_type=ActorType.SYSTEM,
        actor_id="",
        at=now,
        detail={"expiration": consent.expires_at.isoformat() if consent.expires_at else None},
    )
    # The TPP learns of the expiry from the outbox, committed with the status (docs/architecture.md section 7).
    record_consent_change(session=session, consent=consent, event_type=NotificationType.RESOURCE_UPDATE, at=now)
    return True
