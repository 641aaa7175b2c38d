"""What the customer's dashboard shows: their consents grouped by TPP with accounts and history, and the
export of the same as JSON (docs/architecture.md section 1, journey 6).
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlmodel import col
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consent import records
from consent import vrp
from consent.audit import EventType
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import allowed
from consent.models import Consent
from consent.models import ConsentAccount
from consent.models import ConsentEvent
from consent.permissions import PermissionGroup
from consent.permissions import describe
from consent.vrp_usage import VrpPaymentLine
from consent.vrp_usage import VrpUsage
from consent.vrp_usage import usage

# The host's record of the VRPs admitted under some consents (``CustomerPortal.vrp_payments``).
VrpPayments = Callable[[AsyncSession, Sequence[str]], Awaitable[Mapping[str, Sequence[VrpPaymentLine]]]]

S = ConsentStatus
K = ConsentKind


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
    reauthorised_at: datetime | None
    expires_at: datetime | None
    last_accessed_at: datetime | None
    last_access_endpoint: str | None
    revocable: bool
    history: tuple[HistoryEntry, ...]
    vrp: VrpUsage | None = None  # domestic VRP consents: payments made and the allowance left


@dataclass(frozen=True, kw_only=True)
class ClientConsents:
    """Every consent one customer gave one TPP (the web layer maps ``client_id`` to the TPP's name)."""

    client_id: str
    consents: tuple[ConsentSummary, ...]


def _vrp_groups(consent: Consent) -> list[PermissionGroup]:
    """A VRP consent's payee and limits in the consent page's words (``consent.vrp.describe``); none otherwise."""
    if consent.kind != K.DOMESTIC_VRP:
        return []
    rows = vrp.describe(data=consent.data)
    return [PermissionGroup(title="Payments within these limits",
                            items=tuple(f"{label}: {value}" for label, value in rows))]


def _display_status(consent: Consent, now: datetime) -> str:
    if consent.status == S.AUTHORISED and records.is_expired(consent, now):
        return S.EXPIRED.value
    return consent.status


async def list_for_customer(
    *, session: AsyncSession, psu_id: str, now: datetime, vrp_payments: VrpPayments | None = None
) -> list[ClientConsents]:
    """The customer's consents grouped by TPP, newest first, each with its accounts and full history (and, given
    ``vrp_payments``, each VRP consent's payments and allowance)."""
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
    vrp_ids = [c.consent_id for c in consents if c.kind == K.DOMESTIC_VRP]
    paid = await vrp_payments(session, vrp_ids) if vrp_payments is not None and vrp_ids else {}
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
            else _vrp_groups(consent)
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
                reauthorised_at=consent.reauthorised_at,
                expires_at=consent.expires_at,
                last_accessed_at=consent.last_accessed_at,
                last_access_endpoint=str(accesses[-1].detail.get("endpoint")) if accesses else None,
                revocable=status == S.AUTHORISED and allowed(kind=consent.kind, start=status, to=S.REVOKED),
                history=tuple(history[consent.consent_id]),
                vrp=(usage(consent=consent, payments=paid.get(consent.consent_id, ()), at=now)
                     if vrp_payments is not None and consent.kind == K.DOMESTIC_VRP else None),
            )
        )
    return [ClientConsents(client_id=client_id, consents=tuple(items)) for client_id, items in grouped.items()]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _vrp_export(vrp: VrpUsage | None) -> dict[str, Any] | None:
    if vrp is None:
        return None
    return {
        "payments": [{"payment_id": p.payment_id, "at": _iso(p.at), "amount": str(p.amount),
                      "currency": p.currency, "counted": p.counted} for p in vrp.payments],
        "allowances": [{"period_type": a.limit.period_type, "alignment": a.limit.alignment,
                        "limit": str(a.limit.amount), "currency": a.limit.currency, "used": str(a.used),
                        "remaining": str(a.remaining), "period_start": _iso(a.start), "period_end": _iso(a.end)}
                       for a in vrp.allowances],
    }


async def export_for_customer(
    *, session: AsyncSession, psu_id: str, now: datetime, vrp_payments: VrpPayments | None = None
) -> dict[str, Any]:
    """Everything the dashboard shows, as a JSON-ready dict (the customer's copy of their consents)."""
    clients = await list_for_customer(session=session, psu_id=psu_id, now=now, vrp_payments=vrp_payments)
    return export_document(psu_id=psu_id, now=now, clients=clients)


def export_document(*, psu_id: str, now: datetime, clients: Sequence[ClientConsents]) -> dict[str, Any]:
    """``clients`` (all of the customer's consents, or a filtered part of them) as the JSON export."""
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
                "reauthorised_at": _iso(c.reauthorised_at),
                "expires_at": _iso(c.expires_at),
                "last_accessed_at": _iso(c.last_accessed_at),
                **({"vrp": _vrp_export(c.vrp)} if c.vrp is not None else {}),
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
