"""Operator commands' logic (docs/architecture.md section 1, journey 7): list, suspend and resume TPPs; list and
revoke consents. ``gateway.cli.main`` prints what these return.

Suspension takes effect at once on every replica: client authentication and every access-token check read
``Client.status`` from the shared database on each request (no cache), so nothing needs fanning out.
Revoking a consent moves it to ``Revoked`` through the consent lifecycle, revokes every token bound to it in
the same transaction, and appends a ``revoked`` event with actor ``system`` to the audit chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel import select

from gateway.oauth.tokens import revoke_consent_tokens
from gateway.store.db import Database
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client

CLIENT_STATUSES = ("active", "suspended")


class OperatorError(Exception):
    """The command cannot be carried out (unknown id, a transition the lifecycle forbids)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _client_row(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "org_id": client.org_id,
        "software_id": client.software_id,
        "roles": list(client.software_roles),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "status": client.status,
        "created_at": _iso(client.created_at),
        "updated_at": _iso(client.updated_at),
    }


async def list_clients(*, db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        clients = (
            await session.exec(select(Client).order_by(col(Client.created_at), col(Client.client_id)))
        ).all()
    return [_client_row(c) for c in clients]


async def set_client_status(*, db: Database, client_id: str, status: str) -> dict[str, Any]:
    """Suspend (``suspended``) or resume (``active``) a TPP. Idempotent: setting the current status is a no-op."""
    if status not in CLIENT_STATUSES:
        raise OperatorError(f"unknown client status {status!r}")
    async with db.session() as session:
        result = await session.exec(
            update(Client)
            .where(col(Client.client_id) == client_id)
            .values(status=status, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            await session.rollback()
            raise OperatorError(f"no client {client_id!r}")
        await session.commit()
        client = await session.get(Client, client_id)
    assert client is not None
    return _client_row(client)


def _consent_row(consent: Any, accounts: list[str]) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id,
        "kind": consent.kind,
        "client_id": consent.client_id,
        "psu_id": consent.psu_id,
        "status": consent.status,
        "permissions": list(consent.permissions),
        "accounts": accounts,
        "created_at": _iso(consent.created_at),
        "status_updated_at": _iso(consent.status_updated_at),
        "expires_at": _iso(consent.expires_at),
        "last_accessed_at": _iso(consent.last_accessed_at),
    }


async def list_consents(*, db: Database, client_id: str | None = None) -> list[dict[str, Any]]:
    from consent.models import Consent
    from consent.models import ConsentAccount

    query = select(Consent).order_by(col(Consent.created_at), col(Consent.consent_id))
    if client_id is not None:
        query = query.where(Consent.client_id == client_id)
    async with db.session() as session:
        consents = (await session.exec(query)).all()
        accounts: dict[str, list[str]] = {}
        if consents:
            rows = await session.exec(
                select(ConsentAccount).where(
                    col(ConsentAccount.consent_id).in_([c.consent_id for c in consents])
                )
            )
            for row in rows.all():
                accounts.setdefault(row.consent_id, []).append(row.account_id)
    return [_consent_row(c, sorted(accounts.get(c.consent_id, []))) for c in consents]


async def revoke_consent(*, db: Database, consent_id: str, operator: str = "operator") -> dict[str, Any]:
    """Revoke a consent as the bank (not the customer): status, tokens and audit event in one transaction."""
    from consent.audit import ActorType
    from consent.audit import EventType
    from consent.audit import append_event
    from consent.errors import InvalidConsentStatus
    from consent.lifecycle import ConsentStatus
    from consent.lifecycle import check_transition
    from consent.models import Consent
    from consent.notifications import EventType as NotificationType
    from consent.notifications import record_consent_change

    now = utcnow()
    async with db.session() as session:
        consent = await session.get(Consent, consent_id)
        if consent is None or consent.status == ConsentStatus.DELETED:
            raise OperatorError(f"no consent {consent_id!r}")
        start = consent.status
        try:
            # The lifecycle decides: payment consents cannot be revoked (PSD2 art. 80), only Authorised ones can.
            check_transition(consent_id=consent_id, kind=consent.kind, start=start, to=ConsentStatus.REVOKED)
        except InvalidConsentStatus as exc:
            raise OperatorError(f"consent {consent_id} cannot be revoked: {exc.detail or exc}") from None
        try:
            # Conditional on the status read above, so a concurrent change is never overwritten.
            result = await session.exec(
                update(Consent)
                .where(col(Consent.consent_id) == consent_id, col(Consent.status) == start)
                .values(status=ConsentStatus.REVOKED.value, status_updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise OperatorError(f"consent {consent_id} changed meanwhile; run the command again")
            tokens = await revoke_consent_tokens(session, consent_id)
            await append_event(
                session=session,
                consent_id=consent_id,
                event=EventType.REVOKED,
                actor_type=ActorType.SYSTEM,
                actor_id=operator,
                at=now,
                detail={"reason": "operator"},
            )
            # Committed with the status: the TPP is told of the revocation (docs/architecture.md section 7).
            record_consent_change(session=session, consent=consent,
                                  event_type=NotificationType.CONSENT_AUTHORIZATION_REVOKED, at=now)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return {"consent_id": consent_id, "status": ConsentStatus.REVOKED.value, "previous": start,
            "tokens_revoked": tokens}  # fmt: skip
