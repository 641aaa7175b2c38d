"""The TPP hears, once, that one of its account-access consents is due for the UK 90-day reconfirmation
(``consent.reconfirmation``; docs/obie-notes.md section 10; docs/architecture.md section 7, "Outbox").

``announce_due`` finds each active AIS consent the customer last confirmed more than 90 days ago whose current
approval has not been announced yet, and records a ``urn:uk:org:openbanking:events:resource-update`` event for
the account-access-consent in the same transaction that stores the approval it announced
(``reconfirmation_announced_for``): a compare-and-set, so two replicas running it at once announce it once. A
re-authorisation moves the latest approval on, so its period is announced again when it becomes due; an
approval already announced is never announced twice. The gateway runs this periodically
(``gateway.events.reconfirmation_job``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.notifications import EventType
from consent.notifications import record_consent_change
from consent.reconfirmation import RECONFIRM_AFTER
from consent.reconfirmation import reconfirmation_due


async def announce_due(*, session: AsyncSession, now: datetime, limit: int = 500) -> list[str]:
    """Announce every newly due reconfirmation (up to ``limit``); commits. Returns the consent ids announced."""
    cutoff = now - RECONFIRM_AFTER
    candidates = (await session.exec(
        select(Consent).where(
            col(Consent.kind) == ConsentKind.ACCOUNT_ACCESS.value,
            col(Consent.status) == ConsentStatus.AUTHORISED.value,
            col(Consent.authorised_at) < cutoff,  # the latest approval is at least this one
            # Its latest approval not announced yet (announced_for is the latest approval once announced).
            or_(col(Consent.reconfirmation_announced_for).is_(None),
                col(Consent.reconfirmation_announced_for) < col(Consent.authorised_at),
                and_(col(Consent.reauthorised_at).is_not(None),
                     col(Consent.reconfirmation_announced_for) < col(Consent.reauthorised_at))),
        ).order_by(col(Consent.authorised_at)).limit(limit)
    )).all()
    announced: list[str] = []
    for consent in candidates:
        confirmed = reconfirmation_due(kind=consent.kind, status=consent.status, authorised_at=consent.authorised_at,
                                       reauthorised_at=consent.reauthorised_at, now=now)
        if confirmed is None or consent.reconfirmation_announced_for == confirmed:
            continue
        previous = consent.reconfirmation_announced_for
        unchanged = (col(Consent.reconfirmation_announced_for).is_(None) if previous is None
                     else col(Consent.reconfirmation_announced_for) == previous)
        result = await session.exec(
            update(Consent).where(col(Consent.consent_id) == consent.consent_id, unchanged,
                                  col(Consent.status) == ConsentStatus.AUTHORISED.value)
            .values(reconfirmation_announced_for=confirmed).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            continue  # announced by another replica, or the consent changed meanwhile
        record_consent_change(session=session, consent=consent, event_type=EventType.RESOURCE_UPDATE, at=now)
        announced.append(consent.consent_id)
    await session.commit()
    return announced
