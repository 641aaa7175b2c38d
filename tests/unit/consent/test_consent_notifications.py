"""The event-notification outbox: each revocation and expiry leaves exactly one event for the TPP, stored in the
transaction of the change, and none when that transaction rolls back (docs/architecture.md section 7)."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import notifications
from consent import service
from consent import status_changes
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.notifications import EventNotification
from consent.notifications import EventType

TPP = "client-a"
PSU = "psu-alice"
AIS_DATA: dict[str, Any] = {
    "Permissions": ["ReadAccountsDetail", "ReadBalances"],
    "ExpirationDateTime": "2026-12-12T10:00:00+00:00",
}


async def authorised(session: AsyncSession, now: datetime, **data: Any) -> Consent:
    consent = await service.create_account_access_consent(
        session=session, client_id=TPP, data={**AIS_DATA, **data}, risk={}, now=now
    )
    return await service.authorise(session=session, consent_id=consent.consent_id, client_id=TPP, psu_id=PSU,
                                   account_ids=["acc-1"], available_account_ids=["acc-1"], now=now)


async def outbox(session: AsyncSession) -> list[EventNotification]:
    return list((await session.exec(select(EventNotification).order_by(EventNotification.seq))).all())


async def test_creation_and_authorisation_emit_nothing(session: AsyncSession, now: datetime) -> None:
    # The TPP caused (or was told by redirect of) these changes: no notification.
    await authorised(session, now)
    assert await outbox(session) == []


async def test_customer_revocation_emits_one_revoked_event(session: AsyncSession, now: datetime) -> None:
    consent = await authorised(session, now)
    await service.revoke(session=session, consent_id=consent.consent_id, psu_id=PSU, now=now)
    (event,) = await outbox(session)
    assert (event.client_id, event.event_type, event.resource_type, event.resource_id) == (
        TPP, EventType.CONSENT_AUTHORIZATION_REVOKED.value, "account-access-consent", consent.consent_id)
    assert event.occurred_at == now and event.state == "pending" and event.attempts == 0
    assert len(event.jti) == 32 and event.txn


async def test_revoke_all_emits_one_event_per_consent(session: AsyncSession, now: datetime) -> None:
    first, second = await authorised(session, now), await authorised(session, now)
    await service.revoke_all_for_client(session=session, psu_id=PSU, client_id=TPP, now=now)
    events = await outbox(session)
    assert sorted(e.resource_id for e in events) == sorted([first.consent_id, second.consent_id])
    assert len({e.jti for e in events}) == 2


async def test_expiry_emits_a_resource_update(session: AsyncSession, now: datetime) -> None:
    consent = await authorised(session, now, ExpirationDateTime=(now + timedelta(minutes=5)).isoformat())
    assert await service.expire_due(session=session, now=now + timedelta(minutes=6)) == [consent.consent_id]
    (event,) = await outbox(session)
    assert (event.event_type, event.resource_id) == (EventType.RESOURCE_UPDATE.value, consent.consent_id)


async def test_a_rolled_back_revocation_leaves_no_event(
    session: AsyncSession, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    consent_id = (await authorised(session, now)).consent_id

    def then_fail(**kwargs: Any) -> EventNotification:
        notifications.record_consent_change(**kwargs)
        raise RuntimeError("crash after the outbox write, before the commit")

    monkeypatch.setattr(status_changes, "record_consent_change", then_fail)
    with pytest.raises(RuntimeError):
        await service.revoke(session=session, consent_id=consent_id, psu_id=PSU, now=now)
    assert await outbox(session) == []
    # After the rollback the loaded objects are expired (consent.service contract): read it again.
    stored = await session.get(Consent, consent_id, populate_existing=True)
    assert stored is not None and stored.status == ConsentStatus.AUTHORISED
