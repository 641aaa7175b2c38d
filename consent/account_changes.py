"""The customer stops sharing one account under an account-access consent, from the bank's dashboard.

OBIE Customer Experience Guidelines (access dashboard: the customer can see and change what each TPP may access)
and the Event Notification API v3.1.11 ``urn:uk:org:openbanking:events:account-access-consent-linked-account-update``
(docs/obie-notes-vrp-events.md section 3): the consent keeps its id, status, permissions and the other accounts;
the account leaves it, so the gateway refuses the TPP's next call for it (the consent check reads the consent's
accounts at each call). One transaction holds the change, its audit event and the TPP's linked-account-update
event (the outbox, docs/architecture.md section 7). The last account cannot leave: with nothing left to share,
the customer withdraws the consent instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import records
from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import append_event
from consent.errors import ConsentError
from consent.errors import ConsentNotFound
from consent.errors import InvalidAccountSelection
from consent.errors import InvalidConsentStatus
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.models import ConsentAccount
from consent.notifications import EventType as NotificationType
from consent.notifications import record_consent_change


def accounts_can_leave(*, kind: str, status: str, account_count: int) -> bool:
    """Whether a consent's accounts may be taken out one by one: an Authorised account-access consent with more
    than one account (the dashboard offers it exactly then)."""
    return kind == ConsentKind.ACCOUNT_ACCESS and status == ConsentStatus.AUTHORISED and account_count > 1


def _refusal(consent: Consent | None, accounts: tuple[str, ...], *, consent_id: str, psu_id: str,
             account_id: str) -> ConsentError | None:
    """Why ``account_id`` cannot leave the consent, or ``None`` when it can."""
    if consent is None or consent.psu_id != psu_id or consent.status == ConsentStatus.DELETED:
        # Another customer's consent is indistinguishable from an unknown one.
        return ConsentNotFound("Consent not found", detail=f"{consent_id} for {psu_id}")
    if consent.kind != ConsentKind.ACCOUNT_ACCESS or consent.status != ConsentStatus.AUTHORISED:
        return InvalidConsentStatus(f"A {consent.kind} consent that is {consent.status} shares no accounts to change",
                                    detail=consent_id)
    if account_id not in accounts:
        return InvalidAccountSelection("This account is not shared under the consent", detail=account_id)
    if len(accounts) == 1:
        return InvalidAccountSelection("The last account of a consent cannot be removed: withdraw the consent",
                                       detail=account_id)
    return None


async def removable_account(*, session: AsyncSession, consent_id: str, psu_id: str, account_id: str) -> Consent | None:
    """The consent ``stop_sharing_account`` would change (one query), or ``None`` when it would refuse."""
    consent, accounts = await records.load_with_accounts(session, consent_id)
    if _refusal(consent, accounts, consent_id=consent_id, psu_id=psu_id, account_id=account_id) is not None:
        return None
    return consent


async def stop_sharing_account(
    *, session: AsyncSession, consent_id: str, psu_id: str, account_id: str, now: datetime
) -> Consent:
    """Remove ``account_id`` from the customer's own Authorised account-access consent ``consent_id``."""
    consent, accounts = await records.load_with_accounts(session, consent_id)
    refused = _refusal(consent, accounts, consent_id=consent_id, psu_id=psu_id, account_id=account_id)
    if refused is not None:
        raise refused
    assert consent is not None
    async with records.transaction(session):
        await session.exec(delete(ConsentAccount).where(  # type: ignore[call-overload]
            col(ConsentAccount.consent_id) == consent_id, col(ConsentAccount.account_id) == account_id))
        await append_event(session=session, consent_id=consent_id, event=EventType.ACCOUNTS_CHANGED,
                           actor_type=ActorType.CUSTOMER, actor_id=psu_id, at=now,
                           detail={"removed": [account_id], "accounts": [a for a in accounts if a != account_id]})
        record_consent_change(session=session, consent=consent, event_type=NotificationType.LINKED_ACCOUNT_UPDATE,
                              at=now)
    return consent
