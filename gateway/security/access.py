"""Access-token checks at a protected resource (registration management, consents, AIS/PIS/CBPII).

RFC 6750 section 3 (Bearer challenges), RFC 9449 section 7 (DPoP-bound tokens: ``Authorization: DPoP``,
proof with ``ath``, ``cnf.jkt`` match; a DPoP-bound token sent as Bearer is refused), RFC 8705 section 3
(certificate-bound tokens: the presented certificate's ``x5t#S256`` must match). One database round
trip: the token and its client in one query, and with ``with_consent`` the token's consent and its accounts
in the same query (docs/architecture.md section 3, hot-path rule: the resource pipeline's consent check then
reads nothing more). Every failure is 401 ``invalid_token`` /
``invalid_dpop_proof`` with a ``WWW-Authenticate`` challenge, or 403 ``insufficient_scope``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import col
from sqlmodel import select
from sqlmodel.sql.expression import Select
from sqlmodel.sql.expression import SelectOfScalar
from starlette.requests import Request

from consent.access import LoadedConsent
from consent.models import Consent
from consent.models import ConsentAccount
from gateway.errors import InsufficientScope
from gateway.errors import InvalidDpopProof
from gateway.errors import InvalidToken
from gateway.errors import OAuthError
from gateway.errors import UseDpopNonce
from gateway.observability.context import annotate
from gateway.security import jose
from gateway.security.certificates import certificate_thumbprint
from gateway.security.certificates import presented_certificate
from gateway.security.dpop import check_dpop_proof
from gateway.services import Services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client
from gateway.store.oauth_tables import Token
from gateway.store.oauth_tables import secret_hash

_ALGS = " ".join(jose.FAPI_ALGORITHMS)


@functools.cache
def _token_and_client() -> SelectOfScalar[tuple[Token, Client]]:
    """The token and its client in one round trip, built once: composing a SQLAlchemy statement costs more
    than running this one against an indexed column (docs/architecture.md section 3, hot path)."""
    return (
        select(Token, Client)
        .join(Client, Client.client_id == Token.client_id)  # type: ignore[arg-type]
        .where(Token.token_hash == bindparam("token_hash"))
    )


@functools.cache
def _token_client_and_consent() -> Select[tuple[Token, Client, Consent | None, str | None]]:
    """The token, its client, its consent (if any) and the consent's accounts (one row each, none when it has
    none) in one round trip, built once."""
    return (
        select(Token, Client, Consent, ConsentAccount.account_id)
        .join(Client, Client.client_id == Token.client_id)  # type: ignore[arg-type]
        .outerjoin(Consent, col(Consent.consent_id) == col(Token.consent_id))
        .outerjoin(ConsentAccount, col(ConsentAccount.consent_id) == col(Consent.consent_id))
        .where(Token.token_hash == bindparam("token_hash"))
        .order_by(col(ConsentAccount.account_id))
    )


async def _lookup(services: Services, value: str, *, with_consent: bool) -> tuple[Token, Client, LoadedConsent | None] | None:
    params = {"token_hash": secret_hash(value)}
    async with services.db.session() as session:
        if not with_consent:
            row = (await session.exec(_token_and_client(), params=params)).first()
            return None if row is None else (row[0], row[1], None)
        rows = (await session.exec(_token_client_and_consent(), params=params)).all()
    if not rows:
        return None
    token, client, consent, _ = rows[0]
    return token, client, LoadedConsent(consent=consent,
                                        account_ids=tuple(account for *_, account in rows if account is not None))


@dataclass(frozen=True)
class AccessContext:
    token: Token
    client: Client
    # with_consent: the token's consent and its accounts, read with the token (None: not asked for).
    consent: LoadedConsent | None = None

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.token.scope.split())


def _challenge(exc: OAuthError, *, scheme: str) -> OAuthError:
    parts = [f'error="{exc.error}"']
    if exc.message:
        parts.append('error_description="{}"'.format(exc.message.replace('"', "'")))
    if scheme == "DPoP":
        parts.append(f'algs="{_ALGS}"')
    exc.headers["WWW-Authenticate"] = f"{scheme} " + ", ".join(parts)
    return exc


def _unauthorized(description: str, *, scheme: str = "Bearer") -> OAuthError:
    return _challenge(InvalidToken(description), scheme=scheme)


async def require_access_token(
    request: Request,
    *,
    services: Services,
    scopes: Iterable[str] = (),
    grant_types: Iterable[str] | None = None,
    with_consent: bool = False,
) -> AccessContext:
    """The request's verified token and its client. When ``scopes`` is given, the token must hold at least one of
    them (a route's alternatives, ``RoutePolicy.scopes``; 403 ``insufficient_scope`` otherwise)."""
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    scheme_lower = scheme.lower()
    value = value.strip()
    if scheme_lower not in ("dpop", "bearer") or not value:
        exc = InvalidToken("")
        exc.headers["WWW-Authenticate"] = f'DPoP algs="{_ALGS}", Bearer'
        raise exc
    shown_scheme = "DPoP" if scheme_lower == "dpop" else "Bearer"

    found = await _lookup(services, value, with_consent=with_consent)
    if found is None:
        raise _unauthorized("unknown access token", scheme=shown_scheme)
    token, client, consent = found
    if token.kind != "access":
        raise _unauthorized("not an access token", scheme=shown_scheme)
    if token.revoked_at is not None:
        raise _unauthorized("access token revoked", scheme=shown_scheme)
    if token.expires_at <= utcnow():
        raise _unauthorized("access token expired", scheme=shown_scheme)
    if client.status != "active":
        raise _unauthorized("client is not active", scheme=shown_scheme)

    if token.jkt:
        # RFC 9449 section 7.1: a DPoP-bound token must come with the DPoP scheme and a matching proof.
        if scheme_lower != "dpop":
            raise _unauthorized("DPoP-bound token presented with the Bearer scheme", scheme="DPoP")
        try:
            proof = await check_dpop_proof(request, services=services, access_token=value)
        except UseDpopNonce as exc:
            exc.status_code = 401  # type: ignore[misc]
            raise _challenge(exc, scheme="DPoP") from None
        except InvalidDpopProof as exc:
            raise _challenge(InvalidDpopProof(exc.message, status_code=401), scheme="DPoP") from None
        if proof is None:
            raise _challenge(InvalidDpopProof("DPoP proof required", status_code=401), scheme="DPoP")
        if proof.jkt != token.jkt:
            raise _challenge(InvalidDpopProof("DPoP key does not match the token", status_code=401), scheme="DPoP")
    elif token.x5t_s256:
        if scheme_lower != "bearer":
            raise _unauthorized("certificate-bound token must use the Bearer scheme")
        cert = presented_certificate(request, settings=services.settings)
        if cert is None or certificate_thumbprint(cert) != token.x5t_s256:
            raise _unauthorized("client certificate does not match the token")
    else:
        # obgw never issues unconstrained tokens (FAPI 2.0 SP 5.3.2.2); refuse any that exist.
        raise _unauthorized("token is not sender-constrained", scheme=shown_scheme)

    if grant_types is not None and token.grant_type not in set(grant_types):
        raise _unauthorized("this token's grant type cannot be used here", scheme=shown_scheme)
    alternatives = set(scopes)
    if alternatives and alternatives.isdisjoint(token.scope.split()):
        wanted = " or ".join(sorted(alternatives))
        raise _challenge(InsufficientScope(f"scope {wanted} required"), scheme=shown_scheme)
    annotate(client_id=token.client_id, consent_id=token.consent_id)
    return AccessContext(token=token, client=client, consent=consent)
