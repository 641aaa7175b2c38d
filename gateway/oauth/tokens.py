"""Issuing, storing, looking up and revoking access and refresh tokens.

Tokens are opaque random strings (RFC 6749 section 1.4: "usually opaque to the client"), stored only as
SHA-256 hashes. Every token is sender-constrained (FAPI 2.0 Security Profile section 5.3.2.2): bound to a DPoP
key (RFC 9449 section 6, ``cnf.jkt``) or to a client certificate (RFC 8705 section 3, ``cnf.x5t#S256``).
Tokens issued from one authorization code or one refresh chain share a ``grant_id`` so that a replayed code
(RFC 6749 section 4.1.2) or a replayed rotated refresh token revokes the whole family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Final

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Token
from gateway.store.oauth_tables import new_secret
from gateway.store.oauth_tables import secret_hash

ACCESS = "access"
REFRESH = "refresh"


@dataclass(frozen=True, kw_only=True)
class SenderBinding:
    """The key or certificate a token is bound to; exactly one of the two is set."""

    jkt: str | None = None
    x5t_s256: str | None = None

    def __post_init__(self) -> None:
        if (self.jkt is None) == (self.x5t_s256 is None):
            raise ValueError("a sender binding is exactly one DPoP key or one certificate")

    @property
    def token_type(self) -> str:
        # RFC 9449 section 5: DPoP-bound tokens have token_type DPoP; RFC 8705 keeps Bearer.
        return "DPoP" if self.jkt else "Bearer"

    def matches(self, token: Token) -> bool:
        return self.jkt == token.jkt and self.x5t_s256 == token.x5t_s256


@dataclass(frozen=True, kw_only=True)
class IssuedTokens:
    access_token: str
    access: Token
    refresh_token: str | None
    refresh: Token | None


def new_grant_id() -> str:
    return uuid.uuid4().hex


def cnf(token: Token) -> dict[str, str]:
    """RFC 7800 confirmation claim of a stored token (RFC 9449 section 6.1, RFC 8705 section 3.1)."""
    if token.jkt:
        return {"jkt": token.jkt}
    if token.x5t_s256:
        return {"x5t#S256": token.x5t_s256}
    return {}


# A refresh token of a consent without an end lives until it is revoked (the consent's revocation or expiry, or a
# re-authentication, revokes it); stored as this instant, and the ID token then carries no expiry claim.
OPEN_ENDED: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def refresh_expiry(consent_expires_at: datetime | None) -> datetime:
    """docs/obie-notes.md section 10: a consent's refresh token lives as long as the consent, no fixed 90 days."""
    return consent_expires_at if consent_expires_at is not None else OPEN_ENDED


def is_active(token: Token, *, now: datetime | None = None) -> bool:
    moment = now or utcnow()
    return token.revoked_at is None and token.expires_at > moment


async def issue_tokens(
    session: AsyncSession,
    *,
    settings: Settings,
    client_id: str,
    grant_id: str,
    grant_type: str,
    scope: str,
    binding: SenderBinding,
    psu_id: str | None = None,
    consent_id: str | None = None,
    with_refresh: bool = False,
    refresh_expires_at: datetime | None = None,
) -> IssuedTokens:
    """Add an access token (and a refresh token when asked) to ``session``; the caller commits. The refresh token
    lives until ``refresh_expires_at`` when given (a consent's end: ``refresh_expiry``), else
    ``settings.refresh_token_lifetime``."""
    now = utcnow()
    access_value = new_secret()
    access = Token(
        token_hash=secret_hash(access_value),
        kind=ACCESS,
        grant_id=grant_id,
        grant_type=grant_type,
        client_id=client_id,
        psu_id=psu_id,
        consent_id=consent_id,
        scope=scope,
        jkt=binding.jkt,
        x5t_s256=binding.x5t_s256,
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.access_token_lifetime),
    )
    session.add(access)
    refresh_value: str | None = None
    refresh: Token | None = None
    if with_refresh:
        refresh_value = new_secret()
        refresh = Token(
            token_hash=secret_hash(refresh_value),
            kind=REFRESH,
            grant_id=grant_id,
            grant_type=grant_type,
            client_id=client_id,
            psu_id=psu_id,
            consent_id=consent_id,
            scope=scope,
            jkt=binding.jkt,
            x5t_s256=binding.x5t_s256,
            issued_at=now,
            expires_at=refresh_expires_at or now + timedelta(seconds=settings.refresh_token_lifetime),
        )
        session.add(refresh)
    return IssuedTokens(access_token=access_value, access=access, refresh_token=refresh_value, refresh=refresh)


async def lookup_token(session: AsyncSession, value: str) -> Token | None:
    """The stored token for ``value`` (by hash), active or not; callers check ``is_active``."""
    if not value or len(value) > 512:
        return None
    return await session.get(Token, secret_hash(value))


async def revoke_grant(session: AsyncSession, grant_id: str) -> int:
    """Revoke every token of one grant family; returns how many were still live. The caller commits."""
    result = await session.execute(
        update(Token)
        .where(col(Token.grant_id) == grant_id, col(Token.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_consent_tokens(session: AsyncSession, consent_id: str) -> int:
    """Revoke every token bound to a consent (the customer revoked it). The caller commits."""
    result = await session.execute(
        update(Token)
        .where(col(Token.consent_id) == consent_id, col(Token.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_token(session: AsyncSession, *, value: str, client_id: str) -> bool:
    """RFC 7009 section 2.1: revoke ``value`` if it belongs to ``client_id``.

    A refresh token revokes its whole grant (the access tokens issued with it too); an access token only
    itself. Returns whether anything matched; the caller commits.
    """
    token = await lookup_token(session, value)
    if token is None or token.client_id != client_id:
        return False
    if token.kind == REFRESH:
        await revoke_grant(session, token.grant_id)
    else:
        await session.execute(
            update(Token)
            .where(col(Token.token_hash) == token.token_hash, col(Token.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
    return True
