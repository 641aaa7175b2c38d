"""The consent service: every operation on a consent, each one database transaction with its audit event.

OBIE R/W API v3.1.11: account-access-consents, domestic(-scheduled)-payment and standing-order consents,
funds-confirmation-consents (docs/obie-notes.md section 3), idempotency (section 5), and the consent checks of the resource
pipeline (docs/architecture.md section 3, step 4).

Contract for callers: pass a session whose factory has ``expire_on_commit=False`` (the gateway's has). Each
mutating function commits on success and rolls back on failure, so the state change and its audit event are
stored together or not at all; after such a rollback, objects loaded in that session are expired and must be
reloaded (refusals found before any write, the usual case, roll nothing back). Status changes are conditional updates (``WHERE status = <start>``): of two
concurrent changes from the same status only one succeeds, the other gets ``InvalidConsentStatus``.
The service never calls the bank: the customer's accounts come in as ``available_account_ids``. Revoking a
consent does not revoke its tokens: the caller (the authorization server) must do that in the same request.
"""

from __future__ import annotations

import copy
import functools
import uuid
from collections.abc import AsyncIterator
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Final

from sqlalchemy import bindparam
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from consent import idempotency
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
from consent.errors import IdempotencyConflict
from consent.errors import InvalidAccountSelection
from consent.errors import InvalidConsentDate
from consent.errors import InvalidConsentRequest
from consent.errors import InvalidConsentStatus
from consent.errors import InvalidIdempotencyKey
from consent.errors import InvalidPermissions
from consent.errors import MissingConsentField
from consent.errors import PermissionNotGranted
from consent.lifecycle import ID_PREFIXES
from consent.lifecycle import PAYMENT_KINDS
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import allowed
from consent.lifecycle import check_transition
from consent.lifecycle import wire_status
from consent.models import Consent
from consent.models import ConsentAccount
from consent.models import ConsentEvent
from consent.permissions import PermissionGroup
from consent.permissions import check_permission_combination
from consent.permissions import describe
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


# --------------------------------------------------------------------------- helpers


@asynccontextmanager
async def _transaction(session: AsyncSession) -> AsyncIterator[None]:
    try:
        yield
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


def _new_consent_id(kind: ConsentKind) -> str:
    return f"{ID_PREFIXES[kind]}-{uuid.uuid4()}"


def _parse_datetime(value: Any, *, path: str) -> datetime | None:
    """An ISO 8601 date-time with a zone offset, as UTC. Absent is ``None``; anything doubtful is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidConsentDate("Expected an ISO 8601 date-time", path=path)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidConsentDate("Expected an ISO 8601 date-time", path=path) from None
    if parsed.tzinfo is None:
        # A date-time without offset is local time of an unknown zone: refuse rather than guess.
        raise InvalidConsentDate("The date-time must include a time zone offset", path=path)
    return parsed.astimezone(UTC)


def _require_mapping(value: Any, *, path: str) -> dict[str, Any]:
    if value is None:
        raise MissingConsentField(f"{path} is required", path=path)
    if not isinstance(value, Mapping):
        raise InvalidConsentRequest(f"{path} must be an object", path=path)
    # Deep copy: the stored request must not change if the caller's object does.
    return copy.deepcopy(dict(value))


def _is_expired(consent: Consent, now: datetime) -> bool:
    return consent.expires_at is not None and consent.expires_at <= now


async def _add_created(session: AsyncSession, consent: Consent, *, detail: dict[str, Any]) -> None:
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


async def _load(session: AsyncSession, consent_id: str) -> Consent | None:
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


async def _load_with_accounts(session: AsyncSession, consent_id: str) -> tuple[Consent | None, tuple[str, ...]]:
    rows = (await session.exec(_consent_with_accounts(), params={"consent_id": consent_id})).all()
    if not rows:
        return None, ()
    return rows[0][0], tuple(account for _, account in rows if account is not None)


async def _account_ids(session: AsyncSession, consent_id: str) -> tuple[str, ...]:
    rows = await session.exec(
        select(ConsentAccount.account_id)
        .where(ConsentAccount.consent_id == consent_id)
        .order_by(col(ConsentAccount.account_id))
    )
    return tuple(rows.all())


async def _set_status(
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


async def _owned(session: AsyncSession, *, consent_id: str, client_id: str) -> Consent:
    consent = await _load(session, consent_id)
    # R/W API: GET after DELETE answers 400 NotFound, like an id that never existed.
    if consent is None or consent.status == S.DELETED:
        raise ConsentNotFound("Consent not found", detail=consent_id)
    if consent.client_id != client_id:
        raise ConsentForbidden("Consent belongs to another client", detail=f"{consent_id} asked by {client_id}")
    return consent


# --------------------------------------------------------------------------- creation


async def create_account_access_consent(
    *, session: AsyncSession, client_id: str, data: Mapping[str, Any], risk: Mapping[str, Any], now: datetime
) -> Consent:
    """POST /account-access-consents (OBReadConsent1). Not idempotent (AISP profile)."""
    body = _require_mapping(data, path="Data")
    stored_risk = _require_mapping(risk, path="Risk")
    permissions = body.get("Permissions")
    if permissions is None:
        raise MissingConsentField("Permissions are required", path="Data.Permissions")
    if not isinstance(permissions, list):
        raise InvalidPermissions("Permissions must be a list")
    check_permission_combination(permissions)
    expires = _parse_datetime(body.get("ExpirationDateTime"), path="Data.ExpirationDateTime")
    if expires is not None and expires <= now:
        raise InvalidConsentDate("ExpirationDateTime is in the past", path="Data.ExpirationDateTime")
    tx_from = _parse_datetime(body.get("TransactionFromDateTime"), path="Data.TransactionFromDateTime")
    tx_to = _parse_datetime(body.get("TransactionToDateTime"), path="Data.TransactionToDateTime")
    if tx_from is not None and tx_to is not None and tx_from > tx_to:
        raise InvalidConsentDate(
            "TransactionToDateTime is before TransactionFromDateTime", path="Data.TransactionToDateTime"
        )
    consent = Consent(
        consent_id=_new_consent_id(K.ACCOUNT_ACCESS),
        kind=K.ACCOUNT_ACCESS.value,
        client_id=client_id,
        status=S.AWAITING_AUTHORISATION.value,
        permissions=list(permissions),
        expires_at=expires,
        transaction_from=tx_from,
        transaction_to=tx_to,
        data=body,
        risk=stored_risk,
        created_at=now,
        status_updated_at=now,
    )
    async with _transaction(session):
        await _add_created(session, consent, detail={"kind": consent.kind, "permissions": list(permissions)})
    return consent


def _check_idempotency_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidIdempotencyKey("x-idempotency-key is required")
    if not idempotency.well_formed(key):
        raise InvalidIdempotencyKey("x-idempotency-key must be 1 to 40 characters without surrounding spaces")
    return key


async def _replay(
    session: AsyncSession, *, client_id: str, kind: ConsentKind, key: str, request_hash: str, now: datetime,
    window: timedelta,
) -> Consent | None:
    """The consent created under ``key`` within ``window`` if the request is the same; a different body (or
    another kind of consent) under the same key is refused and changes nothing (R/W API "Idempotency")."""
    existing = (
        await session.exec(
            select(Consent).where(idempotency.live(Consent, client_id=client_id, key=key, now=now, window=window))
        )
    ).first()
    if existing is None:
        return None
    if existing.request_hash != request_hash or existing.kind != kind:
        raise IdempotencyConflict(
            "x-idempotency-key was already used with a different request", path="x-idempotency-key",
            detail=f"{client_id} key {key!r} -> {existing.consent_id}",
        )
    return existing


def _payment_kind(kind: str) -> ConsentKind:
    try:
        parsed = ConsentKind(kind)
    except ValueError:
        parsed = None
    if parsed not in PAYMENT_KINDS:
        raise InvalidConsentRequest(f"Not a payment consent kind: {kind!r}")
    assert parsed is not None
    return parsed


async def create_payment_consent(
    *,
    session: AsyncSession,
    client_id: str,
    kind: str,
    data: Mapping[str, Any],
    risk: Mapping[str, Any],
    idempotency_key: str | None,
    request_hash: str,
    now: datetime,
    idempotency_window: timedelta,
) -> Consent:
    """POST a payment-order consent (OBWriteDomesticConsent4 and siblings), idempotent on ``x-idempotency-key``.

    ``idempotency_key`` is ``None`` only when the rulebook marks the route not idempotent: each POST is then new.

    ``request_hash`` identifies the request body (e.g. SHA-256 of the raw bytes); the same key with the same hash
    within ``idempotency_window`` (the rulebook's ``lifetimes.idempotency_key``, 24 h as shipped) returns the
    existing consent, with another hash raises ``IdempotencyConflict``.
    """
    consent_kind = _payment_kind(kind)
    key = None if idempotency_key is None else _check_idempotency_key(idempotency_key)
    if not isinstance(request_hash, str) or not request_hash:
        raise InvalidConsentRequest("request hash is required")
    body = _require_mapping(data, path="Data")
    stored_risk = _require_mapping(risk, path="Risk")
    initiation = _require_mapping(body.get("Initiation"), path="Data.Initiation")
    if consent_kind in (K.DOMESTIC_SCHEDULED_PAYMENT, K.DOMESTIC_STANDING_ORDER) and body.get("Permission") != "Create":
        # Scheduled-payment and standing-order consents carry Data.Permission = "Create".
        raise InvalidConsentRequest("Permission must be Create", path="Data.Permission")
    debtor = initiation.get("DebtorAccount")
    if debtor is not None and not isinstance(debtor, Mapping):
        raise InvalidConsentRequest("DebtorAccount must be an object", path="Data.Initiation.DebtorAccount")

    if key is not None:
        existing = await _replay(session, client_id=client_id, kind=consent_kind, key=key, request_hash=request_hash,
                                 now=now, window=idempotency_window)
        if existing is not None:
            return existing
    consent = Consent(
        consent_id=_new_consent_id(consent_kind),
        kind=consent_kind.value,
        client_id=client_id,
        status=S.AWAITING_AUTHORISATION.value,
        data=body,
        risk=stored_risk,
        debtor_account=dict(debtor) if debtor is not None else None,
        created_at=now,
        status_updated_at=now,
        idempotency_key=key,
        request_hash=request_hash,
    )
    try:
        async with _transaction(session):
            if key is not None:
                await idempotency.retire_expired(session, Consent, client_id=client_id, key=key, now=now,
                                                 window=idempotency_window)
            await _add_created(session, consent, detail={"kind": consent.kind})
    except IntegrityError:
        if key is None:
            raise
        # A concurrent request with the same key won the unique constraint: answer as its replay.
        existing = await _replay(
            session, client_id=client_id, kind=consent_kind, key=key, request_hash=request_hash, now=now,
            window=idempotency_window,
        )
        if existing is None:
            raise
        return existing
    return consent


async def create_funds_confirmation_consent(
    *, session: AsyncSession, client_id: str, data: Mapping[str, Any], now: datetime
) -> Consent:
    """POST /funds-confirmation-consents (OBFundsConfirmationConsent1): DebtorAccount mandatory."""
    body = _require_mapping(data, path="Data")
    debtor = _require_mapping(body.get("DebtorAccount"), path="Data.DebtorAccount")
    for field in ("SchemeName", "Identification"):
        if not isinstance(debtor.get(field), str) or not debtor[field]:
            raise MissingConsentField(f"{field} is required", path=f"Data.DebtorAccount.{field}")
    expires = _parse_datetime(body.get("ExpirationDateTime"), path="Data.ExpirationDateTime")
    if expires is not None and expires <= now:
        raise InvalidConsentDate("ExpirationDateTime is in the past", path="Data.ExpirationDateTime")
    consent = Consent(
        consent_id=_new_consent_id(K.FUNDS_CONFIRMATION),
        kind=K.FUNDS_CONFIRMATION.value,
        client_id=client_id,
        status=S.AWAITING_AUTHORISATION.value,
        expires_at=expires,
        data=body,
        risk={},
        debtor_account=debtor,
        created_at=now,
        status_updated_at=now,
    )
    async with _transaction(session):
        await _add_created(session, consent, detail={"kind": consent.kind})
    return consent


# --------------------------------------------------------------------------- reading


async def get_consent(*, session: AsyncSession, consent_id: str, client_id: str) -> Consent:
    """The client's own consent; unknown or deleted → ``ConsentNotFound``, another client's → ``ConsentForbidden``."""
    return await _owned(session, consent_id=consent_id, client_id=client_id)


async def consented_accounts(*, session: AsyncSession, consent_id: str) -> tuple[str, ...]:
    return await _account_ids(session, consent_id)


# --------------------------------------------------------------------------- the customer's decision


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
    consent = await _owned(session, consent_id=consent_id, client_id=client_id)
    check_transition(consent_id=consent_id, kind=consent.kind, start=consent.status, to=S.AUTHORISED)
    if _is_expired(consent, now):
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
    async with _transaction(session):
        await _set_status(session, consent, S.AUTHORISED, now=now, psu_id=psu_id, authorised_at=now)
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


async def reject(
    *, session: AsyncSession, consent_id: str, client_id: str, psu_id: str | None, now: datetime, reason: str = ""
) -> Consent:
    """The customer denies, or (``psu_id`` None) the authorisation could not be completed: Rejected."""
    consent = await _owned(session, consent_id=consent_id, client_id=client_id)
    values: dict[str, Any] = {"psu_id": psu_id} if psu_id else {}
    async with _transaction(session):
        await _set_status(session, consent, S.REJECTED, now=now, **values)
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
    await _set_status(session, consent, S.REVOKED, now=now)
    await append_event(
        session=session,
        consent_id=consent.consent_id,
        event=EventType.REVOKED,
        actor_type=ActorType.CUSTOMER,
        actor_id=psu_id,
        at=now,
    )


async def revoke(*, session: AsyncSession, consent_id: str, psu_id: str, now: datetime) -> Consent:
    """The customer withdraws a consent on the dashboard (only their own; payment consents cannot be)."""
    consent = await _load(session, consent_id)
    if consent is None or consent.status == S.DELETED or consent.psu_id != psu_id:
        # Another customer's consent is indistinguishable from an unknown one.
        raise ConsentNotFound("Consent not found", detail=f"{consent_id} for {psu_id}")
    async with _transaction(session):
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
    async with _transaction(session):
        for consent in consents:
            if not allowed(kind=consent.kind, start=consent.status, to=S.REVOKED):
                continue  # payment consents (PSD2 art. 80)
            try:
                await _revoke_one(session, consent, psu_id=psu_id, now=now)
            except InvalidConsentStatus:
                continue  # changed meanwhile (consumed, deleted): nothing left to revoke
            revoked.append(consent.consent_id)
    return revoked


# --------------------------------------------------------------------------- the TPP and the system


async def delete(*, session: AsyncSession, consent_id: str, client_id: str, now: datetime) -> None:
    """DELETE /account-access-consents/{ConsentId} or /funds-confirmation-consents/{ConsentId} (soft delete)."""
    consent = await _owned(session, consent_id=consent_id, client_id=client_id)
    async with _transaction(session):
        await _set_status(session, consent, S.DELETED, now=now)
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
    consent = await _load(session, consent_id)
    if consent is None or consent.status == S.DELETED:
        raise ConsentNotFound("Consent not found", detail=consent_id)
    if client_id is not None and consent.client_id != client_id:
        raise ConsentForbidden("Consent belongs to another client", detail=f"{consent_id} by {client_id}")
    async with _transaction(session):
        await _set_status(session, consent, S.CONSUMED, now=now)
        await append_event(
            session=session,
            consent_id=consent_id,
            event=EventType.CONSUMED,
            actor_type=ActorType.TPP if client_id else ActorType.SYSTEM,
            actor_id=client_id or "",
            at=now,
        )
    return consent


async def _mark_expired(session: AsyncSession, consent: Consent, *, now: datetime) -> bool:
    try:
        await _set_status(session, consent, S.EXPIRED, now=now)
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
    return True


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
    async with _transaction(session):
        for consent in due:
            if await _mark_expired(session, consent, now=now):
                expired.append(consent.consent_id)
    return expired


# --------------------------------------------------------------------------- resource access


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
) -> ConsentGrant:
    """The consent checks of the resource pipeline (docs/architecture.md section 3, step 4), every one fail-closed.

    ``endpoint`` is the path template relative to the API base (``/accounts/{AccountId}/balances``) or the
    OpenAPI operationId. An expired consent is marked Expired (with its audit event) before refusing.
    """
    # Hot path (docs/architecture.md section 3): the consent and its accounts in one round trip.
    consent, accounts = await _load_with_accounts(session, consent_id)
    if consent is None or consent.status == S.DELETED:
        raise ConsentInactive("Consent not found", detail=consent_id)
    if consent.client_id != client_id:
        raise ConsentForbidden("Consent belongs to another client", detail=f"{consent_id} used by {client_id}")
    if consent.status not in (S.AUTHORISED, S.EXPIRED):
        raise ConsentInactive(f"Consent is {wire_status(kind=consent.kind, status=consent.status)}", detail=consent_id)
    if consent.psu_id is None or consent.psu_id != psu_id:
        raise ConsentForbidden("Consent belongs to another customer", detail=f"{consent_id} used for {psu_id}")
    if consent.status == S.AUTHORISED and _is_expired(consent, now):
        async with _transaction(session):
            await _mark_expired(session, consent, now=now)
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
) -> None:
    """Log a resource call for the dashboard ("when last used and by what call") and the audit trail."""
    consent = await _load(session, consent_id)
    if consent is None or consent.client_id != client_id:
        raise ConsentNotFound("Consent not found", detail=f"{consent_id} for {client_id}")
    async with _transaction(session):
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
            detail={"endpoint": endpoint, "customer_present": bool(customer_present)},
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
    async with _transaction(session):
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


# --------------------------------------------------------------------------- the customer's dashboard


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    event: str
    at: datetime
    actor_type: str
    actor_id: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ConsentSummary:
    consent_id: str
    kind: str
    client_id: str
    # What the customer sees: ``Expired`` once ExpirationDateTime has passed, even before ``expire_due`` ran.
    status: str
    permissions: tuple[str, ...]
    groups: tuple[PermissionGroup, ...]
    account_ids: tuple[str, ...]
    created_at: datetime
    authorised_at: datetime | None
    expires_at: datetime | None
    last_accessed_at: datetime | None
    last_access_endpoint: str | None
    revocable: bool
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True, kw_only=True)
class ClientConsents:
    """Every consent one customer gave one TPP (the web layer maps ``client_id`` to the TPP's name)."""

    client_id: str
    consents: tuple[ConsentSummary, ...]


def _display_status(consent: Consent, now: datetime) -> str:
    if consent.status == S.AUTHORISED and _is_expired(consent, now):
        return S.EXPIRED.value
    return consent.status


async def list_for_customer(*, session: AsyncSession, psu_id: str, now: datetime) -> list[ClientConsents]:
    """The customer's consents grouped by TPP, newest first, each with its accounts and full history."""
    consents = (
        await session.exec(
            select(Consent).where(Consent.psu_id == psu_id).order_by(col(Consent.created_at).desc())
        )
    ).all()
    ids = [c.consent_id for c in consents]
    accounts: dict[str, list[str]] = {i: [] for i in ids}
    history: dict[str, list[HistoryEntry]] = {i: [] for i in ids}
    if ids:
        for link in (
            await session.exec(
                select(ConsentAccount)
                .where(col(ConsentAccount.consent_id).in_(ids))
                .order_by(col(ConsentAccount.account_id))
            )
        ).all():
            accounts[link.consent_id].append(link.account_id)
        for event in (
            await session.exec(
                select(ConsentEvent).where(col(ConsentEvent.consent_id).in_(ids)).order_by(col(ConsentEvent.seq))
            )
        ).all():
            history[event.consent_id].append(
                HistoryEntry(
                    event=event.event,
                    at=event.at,
                    actor_type=event.actor_type,
                    actor_id=event.actor_id,
                    detail=dict(event.detail),
                )
            )
    grouped: dict[str, list[ConsentSummary]] = {}
    for consent in consents:
        status = _display_status(consent, now)
        accesses = [h for h in history[consent.consent_id] if h.event == EventType.ACCESSED]
        groups = (
            describe(
                consent.permissions,
                transaction_from=consent.transaction_from,
                transaction_to=consent.transaction_to,
                expires=consent.expires_at,
            )
            if consent.kind == K.ACCOUNT_ACCESS
            else []
        )
        grouped.setdefault(consent.client_id, []).append(
            ConsentSummary(
                consent_id=consent.consent_id,
                kind=consent.kind,
                client_id=consent.client_id,
                status=status,
                permissions=tuple(consent.permissions),
                groups=tuple(groups),
                account_ids=tuple(accounts[consent.consent_id]),
                created_at=consent.created_at,
                authorised_at=consent.authorised_at,
                expires_at=consent.expires_at,
                last_accessed_at=consent.last_accessed_at,
                last_access_endpoint=str(accesses[-1].detail.get("endpoint")) if accesses else None,
                revocable=status == S.AUTHORISED and allowed(kind=consent.kind, start=status, to=S.REVOKED),
                history=tuple(history[consent.consent_id]),
            )
        )
    return [ClientConsents(client_id=client_id, consents=tuple(items)) for client_id, items in grouped.items()]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


async def export_for_customer(*, session: AsyncSession, psu_id: str, now: datetime) -> dict[str, Any]:
    """Everything the dashboard shows, as a JSON-ready dict (the customer's copy of their consents)."""
    clients = await list_for_customer(session=session, psu_id=psu_id, now=now)
    return {
        "psu_id": psu_id,
        "exported_at": _iso(now),
        "consents": [
            {
                "consent_id": c.consent_id,
                "client_id": c.client_id,
                "kind": c.kind,
                "status": c.status,
                "permissions": list(c.permissions),
                "description": [{"title": g.title, "items": list(g.items)} for g in c.groups],
                "account_ids": list(c.account_ids),
                "created_at": _iso(c.created_at),
                "authorised_at": _iso(c.authorised_at),
                "expires_at": _iso(c.expires_at),
                "last_accessed_at": _iso(c.last_accessed_at),
                "history": [
                    {
                        "event": h.event,
                        "at": _iso(h.at),
                        "actor_type": h.actor_type,
                        "actor_id": h.actor_id,
                        "detail": dict(h.detail),
                    }
                    for h in c.history
                ],
            }
            for group in clients
            for c in group.consents
        ],
    }
