"""The consent checks of the resource pipeline and the log of served calls (docs/architecture.md section 3,
step 4 and step 8): every check fail-closed, the consent and its accounts read in one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Final

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import records
from consent.audit import ActorType
from consent.audit import EventType
from consent.audit import NewEvent
from consent.audit import append_event
from consent.audit import append_events
from consent.errors import AccountNotConsented
from consent.errors import ConsentExpired
from consent.errors import ConsentForbidden
from consent.errors import ConsentInactive
from consent.errors import ConsentNotFound
from consent.errors import PermissionNotGranted
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import wire_status
from consent.models import Consent
from consent.permissions import permits

S = ConsentStatus
K = ConsentKind

# The operations a non-AIS consent authorises (path templates relative to the API base, and operationIds).
KIND_ENDPOINTS: Final[Mapping[ConsentKind, frozenset[str]]] = {
    K.DOMESTIC_PAYMENT: frozenset(
        {
            "/domestic-payments",
            "CreateDomesticPayments",
            # PISP profile: the funds check on a payment consent takes the customer's (AC) token.
            "/domestic-payment-consents/{ConsentId}/funds-confirmation",
            "GetDomesticPaymentConsentsConsentIdFundsConfirmation",
        }
    ),
    K.DOMESTIC_SCHEDULED_PAYMENT: frozenset({"/domestic-scheduled-payments", "CreateDomesticScheduledPayments"}),
    K.DOMESTIC_STANDING_ORDER: frozenset({"/domestic-standing-orders", "CreateDomesticStandingOrders"}),
    K.FUNDS_CONFIRMATION: frozenset({"/funds-confirmations", "CreateFundsConfirmations"}),
    # VRP API v3.1.11: many payments under one consent, and the funds check, with the customer's token.
    K.DOMESTIC_VRP: frozenset(
        {
            "/domestic-vrps",
            "domesticVrpPost",
            "/domestic-vrp-consents/{ConsentId}/funds-confirmation",
            "domesticVrpConsentsFundsConfirmation",
        }
    ),
}


@dataclass(frozen=True, kw_only=True)
class ConsentGrant:
    """What an Authorised consent lets this client do for this customer, as the resource pipeline needs it."""

    consent_id: str
    kind: str
    client_id: str
    psu_id: str
    permissions: frozenset[str]
    account_ids: tuple[str, ...]
    transaction_from: datetime | None
    transaction_to: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class LoadedConsent:
    """A consent and its accounts as a caller already read them (the resource pipeline reads them in the same
    round trip as the access token), for ``check_access`` to check instead of reading them again."""

    consent: Consent | None
    account_ids: tuple[str, ...]


def _covers(consent: Consent, endpoint: str) -> bool:
    if consent.kind == K.ACCOUNT_ACCESS:
        return permits(permissions=consent.permissions, endpoint=endpoint)
    try:
        return endpoint in KIND_ENDPOINTS[ConsentKind(consent.kind)]
    except (KeyError, ValueError):
        return False


async def check_access(
    *,
    session: AsyncSession,
    consent_id: str,
    client_id: str,
    psu_id: str,
    now: datetime,
    endpoint: str,
    account_id: str | None = None,
    loaded: LoadedConsent | None = None,
) -> ConsentGrant:
    """The consent checks of the resource pipeline (docs/architecture.md section 3, step 4), every one fail-closed.

    ``endpoint`` is the path template relative to the API base (``/accounts/{AccountId}/balances``) or the
    OpenAPI operationId. An expired consent is marked Expired (with its audit event) before refusing.
    ``loaded`` is the consent and its accounts when the caller read them already in this request (else they are
    read here); a loaded consent other than ``consent_id`` is refused like an unknown one.
    """
    # Hot path (docs/architecture.md section 3): the consent and its accounts in one round trip, or none.
    if loaded is None:
        consent, accounts = await records.load_with_accounts(session, consent_id)
    else:
        consent, accounts = loaded.consent, loaded.account_ids
    if consent is None or consent.status == S.DELETED or consent.consent_id != consent_id:
        raise ConsentInactive("Consent not found", detail=consent_id)
    if consent.client_id != client_id:
        raise ConsentForbidden("Consent belongs to another client", detail=f"{consent_id} used by {client_id}")
    if consent.status not in (S.AUTHORISED, S.EXPIRED):
        raise ConsentInactive(f"Consent is {wire_status(kind=consent.kind, status=consent.status)}", detail=consent_id)
    if consent.psu_id is None or consent.psu_id != psu_id:
        raise ConsentForbidden("Consent belongs to another customer", detail=f"{consent_id} used for {psu_id}")
    if consent.status == S.AUTHORISED and records.is_expired(consent, now):
        async with records.transaction(session):
            await records.mark_expired(session, consent, now=now)
        raise ConsentExpired("Consent has expired", detail=consent_id)
    if consent.status == S.EXPIRED:
        raise ConsentExpired("Consent has expired", detail=consent_id)
    if not _covers(consent, endpoint):
        raise PermissionNotGranted("The consent does not permit this operation", detail=f"{consent_id}: {endpoint}")
    if account_id is not None and account_id not in accounts:
        raise AccountNotConsented("Account is not part of the consent", detail=f"{consent_id}: {account_id}")
    return ConsentGrant(
        consent_id=consent.consent_id,
        kind=consent.kind,
        client_id=consent.client_id,
        psu_id=consent.psu_id,
        permissions=frozenset(consent.permissions),
        account_ids=accounts,
        transaction_from=consent.transaction_from,
        transaction_to=consent.transaction_to,
        expires_at=consent.expires_at,
    )


async def record_access(
    *,
    session: AsyncSession,
    consent_id: str,
    client_id: str,
    endpoint: str,
    customer_present: bool,
    now: datetime,
    answer: Mapping[str, Any] | None = None,
) -> None:
    """Log a resource call for the dashboard ("when last used and by what call") and the audit trail; ``answer``
    is what the call told the TPP where the customer should see it (a funds check: the amount and yes or no)."""
    consent = await records.load(session, consent_id)
    if consent is None or consent.client_id != client_id:
        raise ConsentNotFound("Consent not found", detail=f"{consent_id} for {client_id}")
    async with records.transaction(session):
        result = await session.exec(
            update(Consent)
            .where(col(Consent.consent_id) == consent_id, col(Consent.client_id) == client_id)
            .values(last_accessed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise ConsentNotFound("Consent not found", detail=f"{consent_id} for {client_id}")
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.ACCESSED,
            actor_type=ActorType.TPP,
            actor_id=client_id,
            at=now,
            detail={"endpoint": endpoint, "customer_present": bool(customer_present),
                    **({"answer": dict(answer)} if answer is not None else {})},
        )


@dataclass(frozen=True, kw_only=True)
class Access:
    """One served resource call, as ``record_access`` takes it."""

    consent_id: str
    client_id: str
    endpoint: str
    customer_present: bool
    at: datetime


async def record_accesses(*, session: AsyncSession, accesses: Sequence[Access]) -> None:
    """``record_access`` for several calls in one transaction (one lock of the chain, one commit): all are
    recorded or none is, so a caller can retry the batch or fall back to one call at a time."""
    if not accesses:
        return
    async with records.transaction(session):
        last_at: dict[tuple[str, str], datetime] = {}
        for access in accesses:
            key = (access.consent_id, access.client_id)
            last_at[key] = max(access.at, last_at.get(key, access.at))
        for (consent_id, client_id), at in last_at.items():
            result = await session.exec(
                update(Consent)
                .where(col(Consent.consent_id) == consent_id, col(Consent.client_id) == client_id)
                .values(last_accessed_at=at)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise ConsentNotFound("Consent not found", detail=f"{consent_id} for {client_id}")
        await append_events(session=session, events=[
            NewEvent(
                consent_id=access.consent_id,
                event=EventType.ACCESSED,
                actor_type=ActorType.TPP,
                actor_id=access.client_id,
                at=access.at,
                detail={"endpoint": access.endpoint, "customer_present": bool(access.customer_present)},
            )
            for access in accesses
        ])
