"""Creating consents: account access, payment orders (idempotent on ``x-idempotency-key``) and funds confirmation.

OBIE R/W API v3.1.11 account-access-consents, domestic(-scheduled)-payment and standing-order consents,
domestic VRP consents (vrp-openapi.yaml, ``consent.vrp``), funds-confirmation-consents (docs/obie-notes.md section 3) and idempotency (section 5). Each creation is one
transaction with its ``created`` audit event.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import idempotency
from consent import records
from consent import vrp
from consent.errors import IdempotencyConflict
from consent.errors import InvalidConsentDate
from consent.errors import InvalidConsentRequest
from consent.errors import InvalidIdempotencyKey
from consent.errors import InvalidPermissions
from consent.errors import MissingConsentField
from consent.lifecycle import ID_PREFIXES
from consent.lifecycle import PISP_KINDS
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.models import Consent
from consent.permissions import check_permission_combination

S = ConsentStatus
K = ConsentKind


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
    async with records.transaction(session):
        await records.add_created(session, consent, detail={"kind": consent.kind, "permissions": list(permissions)})
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
    if parsed not in PISP_KINDS:
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
    """POST a payment-order consent (OBWriteDomesticConsent4 and siblings) or a domestic VRP consent
    (OBDomesticVRPConsentRequest, ``consent.vrp``), idempotent on ``x-idempotency-key``.

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
    expires = None
    if consent_kind == K.DOMESTIC_VRP:
        # VRP: the ControlParameters' rules beyond the schema; ValidToDateTime is when the consent ends.
        vrp.check_control_parameters(data=body, now=now)
        expires = vrp.valid_to(data=body)
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
        expires_at=expires,
        created_at=now,
        status_updated_at=now,
        idempotency_key=key,
        request_hash=request_hash,
    )
    try:
        async with records.transaction(session):
            if key is not None:
                await idempotency.retire_expired(session, Consent, client_id=client_id, key=key, now=now,
                                                 window=idempotency_window)
            await records.add_created(session, consent, detail={"kind": consent.kind})
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
    async with records.transaction(session):
        await records.add_created(session, consent, detail={"kind": consent.kind})
    return consent
