"""A consent's life after creation: the customer's decision, revocation, the TPP's delete, consumption by a
payment order and expiry (consent.lifecycle holds the allowed transitions; docs/obie-notes.md section 3).

Each change is one transaction with its audit event. Revoking a consent does not revoke its tokens: the caller
(the authorization server) must do that in the same request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import records
from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import append_event
from consent.errors import ConsentExpired
from consent.errors import ConsentForbidden
from consent.errors import ConsentNotFound
from consent.errors import InvalidAccountSelection
from consent.errors import InvalidConsentStatus
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import allowed
from consent.lifecycle import check_transition
from consent.lifecycle import reauthenticable
from consent.models import Consent
from consent.models import ConsentAccount
from consent.notifications import EventType as NotificationType
from consent.notifications import record_consent_change

S = ConsentStatus
K = ConsentKind


async def get_consent(*, session: AsyncSession, consent_id: str, client_id: str) -> Consent:
    """The client's own consent; unknown or deleted → ``ConsentNotFound``, another client's → ``ConsentForbidden``."""
    return await records.owned(session, consent_id=consent_id, client_id=client_id)


def check_owned(consent: Consent | None, *, consent_id: str, client_id: str) -> Consent:
    """``get_consent``'s rule for a consent the caller loaded itself (in a query of its own)."""
    return records.check_owned(consent, consent_id=consent_id, client_id=client_id)


async def consented_accounts(*, session: AsyncSession, consent_id: str) -> tuple[str, ...]:
    return await records.account_ids(session, consent_id)


async def authorise(
    *,
    session: AsyncSession,
    consent_id: str,
    client_id: str,
    psu_id: str,
    account_ids: Iterable[str],
    available_account_ids: Iterable[str],
    now: datetime,
) -> Consent:
    """The customer approves, choosing the accounts (the AISP cannot pre-select them: AISP profile)."""
    consent = await records.owned(session, consent_id=consent_id, client_id=client_id)
    check_transition(consent_id=consent_id, kind=consent.kind, start=consent.status, to=S.AUTHORISED)
    if records.is_expired(consent, now):
        raise ConsentExpired("Consent has expired", detail=consent_id)
    if not psu_id:
        raise ConsentForbidden("No signed-in customer", detail=consent_id)
    chosen = list(account_ids)
    available = frozenset(available_account_ids)
    if not chosen:
        raise InvalidAccountSelection("Choose at least one account")
    if len(set(chosen)) != len(chosen):
        raise InvalidAccountSelection("An account was chosen more than once")
    if any(account_id not in available for account_id in chosen):
        raise InvalidAccountSelection("That account cannot be shared", detail=f"{psu_id}: {chosen}")
    if consent.kind != K.ACCOUNT_ACCESS and len(chosen) != 1:
        # Payment and funds-confirmation consents concern exactly one debtor account.
        raise InvalidAccountSelection("Choose exactly one account")
    async with records.transaction(session):
        await records.set_status(session, consent, S.AUTHORISED, now=now, psu_id=psu_id, authorised_at=now)
        for account_id in chosen:
            session.add(ConsentAccount(consent_id=consent_id, account_id=account_id))
        await session.flush()
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.AUTHORISED,
            actor_type=ActorType.CUSTOMER,
            actor_id=psu_id,
            at=now,
            detail={"account_ids": chosen},
        )
    return consent


async def reauthorise(*, session: AsyncSession, consent_id: str, client_id: str, psu_id: str, now: datetime) -> Consent:
    """The customer re-authenticates an Authorised long-lived consent (account access, funds confirmation, VRP):
    it keeps its id, accounts and history, and records when. Only the customer it is bound to may do this
    (another customer: ``ConsentForbidden``). The caller revokes the consent's earlier tokens in the same
    transaction (the host owns tokens)."""
    consent = await records.owned(session, consent_id=consent_id, client_id=client_id)
    if consent.status != S.AUTHORISED or not reauthenticable(consent.kind):
        raise InvalidConsentStatus(f"A {consent.kind} consent that is {consent.status} cannot be re-authenticated",
                                   detail=consent_id)
    if records.is_expired(consent, now):
        raise ConsentExpired("Consent has expired", detail=consent_id)
    if not psu_id or consent.psu_id != psu_id:
        raise ConsentForbidden("This consent was given by another customer", detail=f"{consent_id} for {psu_id}")
    async with records.transaction(session):
        consent.reauthorised_at = now
        session.add(consent)
        await session.flush()
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.REAUTHORISED,
            actor_type=ActorType.CUSTOMER,
            actor_id=psu_id,
            at=now,
        )
    return consent


async def reject(
    *, session: AsyncSession, consent_id: str, client_id: str, psu_id: str | None, now: datetime, reason: str = ""
) -> Consent:
    """The customer denies, or (``psu_id`` None) the authorisation could not be completed: Rejected."""
    consent = await records.owned(session, consent_id=consent_id, client_id=client_id)
    values: dict[str, Any] = {"psu_id": psu_id} if psu_id else {}
    async with records.transaction(session):
        await records.set_status(session, consent, S.REJECTED, now=now, **values)
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.REJECTED,
            actor_type=ActorType.CUSTOMER if psu_id else ActorType.SYSTEM,
            actor_id=psu_id or "",
            at=now,
            detail={"reason": reason} if reason else {},
        )
    return consent


async def _revoke_one(session: AsyncSession, consent: Consent, *, psu_id: str, now: datetime) -> None:
    await records.set_status(session, consent, S.REVOKED, now=now)
    await append_event(
        session=session,
        consent_id=consent.consent_id,
        event=EventType.REVOKED,
        actor_type=ActorType.CUSTOMER,
        actor_id=psu_id,
        at=now,
    )
    # In the same transaction: the TPP is told of the revocation exactly when it is committed.
    record_consent_change(
        session=session, consent=consent, event_type=NotificationType.CONSENT_AUTHORIZATION_REVOKED, at=now
    )


async def revoke(*, session: AsyncSession, consent_id: str, psu_id: str, now: datetime) -> Consent:
    """The customer withdraws a consent on the dashboard (only their own; payment consents cannot be)."""
    consent = await records.load(session, consent_id)
    if consent is None or consent.status == S.DELETED or consent.psu_id != psu_id:
        # Another customer's consent is indistinguishable from an unknown one.
        raise ConsentNotFound("Consent not found", detail=f"{consent_id} for {psu_id}")
    async with records.transaction(session):
        await _revoke_one(session, consent, psu_id=psu_id, now=now)
    return consent


async def revoke_all_for_client(*, session: AsyncSession, psu_id: str, client_id: str, now: datetime) -> list[str]:
    """Withdraw every revocable Authorised consent the customer gave this client; returns their ids."""
    consents = (
        await session.exec(
            select(Consent).where(
                Consent.psu_id == psu_id, Consent.client_id == client_id, Consent.status == S.AUTHORISED.value
            )
        )
    ).all()
    revoked: list[str] = []
    async with records.transaction(session):
        for consent in consents:
            if not allowed(kind=consent.kind, start=consent.status, to=S.REVOKED):
                continue  # payment consents (PSD2 art. 80)
            try:
                await _revoke_one(session, consent, psu_id=psu_id, now=now)
            except InvalidConsentStatus:
                continue  # changed meanwhile (consumed, deleted): nothing left to revoke
            revoked.append(consent.consent_id)
    return revoked


async def delete(*, session: AsyncSession, consent_id: str, client_id: str, now: datetime) -> None:
    """DELETE /account-access-consents/{ConsentId} or /funds-confirmation-consents/{ConsentId} (soft delete)."""
    consent = await records.owned(session, consent_id=consent_id, client_id=client_id)
    async with records.transaction(session):
        await records.set_status(session, consent, S.DELETED, now=now)
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.DELETED,
            actor_type=ActorType.TPP,
            actor_id=client_id,
            at=now,
        )


async def consume(*, session: AsyncSession, consent_id: str, now: datetime, client_id: str | None = None) -> Consent:
    """Authorised → Consumed when the payment order is created (DPC "State Model"). Exactly once: of two
    concurrent calls only one passes the conditional update. ``client_id``, when given, must own the consent."""
    consent = await records.load(session, consent_id)
    if consent is None or consent.status == S.DELETED:
        raise ConsentNotFound("Consent not found", detail=consent_id)
    if client_id is not None and consent.client_id != client_id:
        raise ConsentForbidden("Consent belongs to another client", detail=f"{consent_id} by {client_id}")
    async with records.transaction(session):
        await records.set_status(session, consent, S.CONSUMED, now=now)
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.CONSUMED,
            actor_type=ActorType.TPP if client_id else ActorType.SYSTEM,
            actor_id=client_id or "",
            at=now,
        )
    return consent


async def expire_due(*, session: AsyncSession, now: datetime) -> list[str]:
    """Mark Expired every Authorised consent whose ExpirationDateTime has passed; returns their ids."""
    due = (
        await session.exec(
            select(Consent).where(
                Consent.status == S.AUTHORISED.value,
                col(Consent.expires_at).is_not(None),
                col(Consent.expires_at) <= now,
            )
        )
    ).all()
    expired: list[str] = []
    async with records.transaction(session):
        for consent in due:
            if await records.mark_expired(session, consent, now=now):
                expired.append(consent.consent_id)
    return expired
