"""The token endpoint: ``POST /token`` (RFC 6749 section 3.2), and the form rules every OAuth endpoint shares.

Grants: ``authorization_code`` (RFC 6749 section 4.1.3 with PKCE S256, RFC 7636 section 4.6),
``refresh_token`` (section 6; not rotated: FAPI 2.0 Security Profile section 5.3.2.1 forbids rotation
outside extraordinary circumstances, and the refresh token is sender-constrained like the access token) and
``client_credentials`` (section 4.4). Every token is sender-constrained (FAPI 2.0 Security Profile section
5.3.2.1): a DPoP proof (RFC 9449 section 5) gives ``token_type`` DPoP and ``cnf.jkt``; otherwise the
client certificate the TLS terminator passed (RFC 8705 section 3) gives a certificate-bound Bearer token;
with neither the request is refused.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent.lifecycle import ConsentStatus
from consent.models import Consent
from gateway.errors import InvalidGrant
from gateway.errors import InvalidRequest
from gateway.errors import InvalidScope
from gateway.errors import UnauthorizedClient
from gateway.errors import UnsupportedGrantType
from gateway.oauth import tokens
from gateway.oauth.client_auth import AuthenticatedClient
from gateway.oauth.client_auth import authenticate_client
from gateway.oauth.id_tokens import build_id_token
from gateway.oauth.tokens import SenderBinding
from gateway.security import jose
from gateway.security.certificates import certificate_thumbprint
from gateway.security.certificates import presented_certificate
from gateway.security.dpop import check_dpop_proof
from gateway.services import Services
from gateway.services import services as get_services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import AuthorizationCode
from gateway.store.oauth_tables import secret_hash

FORM_TYPE = "application/x-www-form-urlencoded"
# RFC 7636 section 4.1: code_verifier = 43*128unreserved.
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict.

    RFC 6749 section 3.2 (and RFC 9126 section 2.1, RFC 7662 section 2.1, RFC 7009 section 2.1): form
    encoding only. RFC 6749 section 3.1: a parameter sent twice is an error, one sent without a value is
    treated as omitted.
    """
    form, _ = await read_form_lists(request, repeatable=frozenset())
    return form


async def read_form_lists(
    request: Request, *, repeatable: frozenset[str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Like ``read_form``, but the fields named in ``repeatable`` (an HTML checkbox group) may appear any number
    of times: they come back, with every non-empty value, in the second dict."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"the request body must be {FORM_TYPE}")
    body = await request.body()  # bounded by OBGW_MAX_FORM_BYTES (gateway/hosting/body_limit.py)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the request body is not UTF-8") from exc
    try:
        # Every field name=value, escapes decoding to UTF-8 (WHATWG URL "application/x-www-form-urlencoded").
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except ValueError as exc:
        raise InvalidRequest("the request body is not a well-formed form") from exc
    form: dict[str, str] = {}
    lists: dict[str, list[str]] = {name: [] for name in repeatable}
    seen: set[str] = set()
    for name, value in pairs:
        if name in repeatable:
            if value != "":
                lists[name].append(value)
            continue
        if name in seen:
            raise InvalidRequest(f"parameter {name} is repeated")
        seen.add(name)
        if value != "":
            form[name] = value
    return form, lists


async def sender_binding(request: Request, *, services: Services, authenticated: AuthenticatedClient) -> SenderBinding:
    """The key or certificate the new tokens are bound to; ``invalid_request`` when there is none."""
    proof = await check_dpop_proof(request, services=services)
    if proof is not None:
        return SenderBinding(jkt=proof.jkt)
    thumbprint = authenticated.certificate_thumbprint
    if thumbprint is None:
        cert = presented_certificate(request, settings=services.settings)
        thumbprint = certificate_thumbprint(cert) if cert is not None else None
    if thumbprint is not None:
        return SenderBinding(x5t_s256=thumbprint)
    # FAPI 2.0 SP section 5.3.2.1: only sender-constrained access tokens.
    raise InvalidRequest("sender-constrained tokens only: send a DPoP header with a proof JWT (RFC 9449) or present your client "
                         "certificate over mutual TLS (RFC 8705)")


async def token_endpoint(request: Request) -> JSONResponse:
    svc = get_services(request)
    form = await read_form(request)
    authenticated = await authenticate_client(request, form, services=svc)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required")
    if grant_type not in _GRANTS:
        raise UnsupportedGrantType(f"grant_type {grant_type} is not supported")
    if grant_type not in authenticated.client.grant_types:
        raise UnauthorizedClient(f"this client is not registered for the {grant_type} grant")
    binding = await sender_binding(request, services=svc, authenticated=authenticated)
    body = await _GRANTS[grant_type](form, services=svc, authenticated=authenticated, binding=binding)
    return JSONResponse(body, headers=NO_STORE)


async def _authorization_code(
    form: Mapping[str, str], *, services: Services, authenticated: AuthenticatedClient, binding: SenderBinding
) -> dict[str, Any]:
    client = authenticated.client
    code, redirect_uri, verifier = form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
    if not code or not redirect_uri or not verifier:
        raise InvalidRequest("code, redirect_uri and code_verifier are required")
    if not _VERIFIER.match(verifier):
        raise InvalidGrant("code_verifier is malformed")
    code_hash = secret_hash(code)
    now = utcnow()
    async with services.db.session() as session:
        row = await session.get(AuthorizationCode, code_hash)
        if row is None:
            raise InvalidGrant("unknown authorization code")
        if row.used_at is not None:
            # RFC 6749 section 4.1.2: a code used twice revokes every token issued from it.
            await tokens.revoke_grant(session, code_hash)
            await session.commit()
            raise InvalidGrant("authorization code already used")
        if row.client_id != client.client_id:
            raise InvalidGrant("authorization code was issued to another client")
        if row.expires_at <= now:
            raise InvalidGrant("authorization code expired")
        if row.redirect_uri != redirect_uri:
            # RFC 6749 section 4.1.3: identical to the redirect_uri of the authorization request.
            raise InvalidGrant("redirect_uri does not match the authorization request: send the redirect_uri you pushed")
        if not hmac.compare_digest(jose.sha256_b64url(verifier), row.code_challenge):
            # RFC 7636 section 4.6.
            raise InvalidGrant("code_verifier does not match the code_challenge: send the verifier whose S256 hash you pushed")
        if row.dpop_jkt is not None and binding.jkt != row.dpop_jkt:
            # RFC 9449 section 10: the code is bound to the key used at PAR.
            raise InvalidGrant("the DPoP key differs from the one the authorization request was bound to")

        refresh_until: datetime | None = None
        if row.consent_id is not None:
            consent = await session.get(Consent, row.consent_id)
            if consent is None or consent.status != ConsentStatus.AUTHORISED or consent.client_id != client.client_id:
                # The customer may have withdrawn the consent since approving it: no tokens for it then.
                raise InvalidGrant("the consent of this authorization code is no longer authorised")
            # docs/obie-notes.md section 10: the refresh token lives as long as the consent.
            refresh_until = tokens.refresh_expiry(consent.expires_at)

        # Atomic single use: of two concurrent redemptions exactly one updates the row.
        claimed = await session.execute(
            update(AuthorizationCode)
            .where(col(AuthorizationCode.code_hash) == code_hash, col(AuthorizationCode.used_at).is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await tokens.revoke_grant(session, code_hash)
            await session.commit()
            raise InvalidGrant("authorization code already used")
        issued = await tokens.issue_tokens(
            session,
            settings=services.settings,
            client_id=client.client_id,
            grant_id=code_hash,
            grant_type="authorization_code",
            scope=row.scope,
            binding=binding,
            psu_id=row.psu_id,
            consent_id=row.consent_id,
            with_refresh=True,
            refresh_expires_at=refresh_until,
        )
        await session.commit()
    body = _token_response(issued, services=services)
    if "openid" in row.scope.split():
        assert issued.refresh is not None
        body["id_token"] = build_id_token(
            settings=services.settings,
            keys=services.keys,
            client_id=client.client_id,
            psu_id=row.psu_id,
            auth_time=row.auth_time,
            nonce=row.nonce,
            intent_id=row.consent_id,
            amr=_amr_of(row.claims),
            refresh_expires_at=None if issued.refresh.expires_at >= tokens.OPEN_ENDED else issued.refresh.expires_at,
        )
    return body


async def _refresh_token(
    form: Mapping[str, str], *, services: Services, authenticated: AuthenticatedClient, binding: SenderBinding
) -> dict[str, Any]:
    client = authenticated.client
    value = form.get("refresh_token")
    if not value:
        raise InvalidRequest("refresh_token is required")
    now = utcnow()
    async with services.db.session() as session:
        old = await tokens.lookup_token(session, value)
        if old is None or old.kind != tokens.REFRESH:
            raise InvalidGrant("unknown refresh token")
        if old.client_id != client.client_id:
            raise InvalidGrant("refresh token was issued to another client")
        if old.revoked_at is not None:
            raise InvalidGrant("refresh token revoked")
        if old.expires_at <= now:
            raise InvalidGrant("refresh token expired")
        if not binding.matches(old):
            # RFC 9449 section 5 / RFC 8705 section 3: the refresh token stays with the key it was bound to.
            raise InvalidGrant("refresh token is bound to another key or certificate")
        scope = old.scope
        if form.get("scope"):
            requested = form["scope"].split()
            # RFC 6749 section 6: never more than originally granted.
            if not set(requested) <= set(old.scope.split()):
                raise InvalidScope("scope exceeds the original grant")
            scope = " ".join(dict.fromkeys(requested))
        issued = await tokens.issue_tokens(
            session,
            settings=services.settings,
            client_id=client.client_id,
            grant_id=old.grant_id,
            grant_type="refresh_token",
            scope=scope,
            binding=binding,
            psu_id=old.psu_id,
            consent_id=old.consent_id,
        )
        await session.commit()
    body = _token_response(issued, services=services)
    # RFC 6749 section 6: the client keeps using the same refresh token.
    body["refresh_token"] = value
    if "openid" in scope.split() and old.psu_id:
        # OIDC Core section 12.2: a refreshed ID token; no nonce, same subject and consent.
        body["id_token"] = build_id_token(
            settings=services.settings,
            keys=services.keys,
            client_id=client.client_id,
            psu_id=old.psu_id,
            auth_time=None,
            intent_id=old.consent_id,
            refresh_expires_at=None if old.expires_at >= tokens.OPEN_ENDED else old.expires_at,
        )
    return body


async def _client_credentials(
    form: Mapping[str, str], *, services: Services, authenticated: AuthenticatedClient, binding: SenderBinding
) -> dict[str, Any]:
    client = authenticated.client
    # No customer is involved, so openid (an identity scope) is never part of a client-credentials grant.
    allowed = [s for s in client.scope.split() if s != "openid"]
    requested = form["scope"].split() if form.get("scope") else allowed
    if not requested or not set(requested) <= set(allowed):
        raise InvalidScope("scope exceeds the client's registered scope")
    async with services.db.session() as session:
        issued = await tokens.issue_tokens(
            session,
            settings=services.settings,
            client_id=client.client_id,
            grant_id=tokens.new_grant_id(),
            grant_type="client_credentials",
            scope=" ".join(dict.fromkeys(requested)),
            binding=binding,
        )
        await session.commit()
    return _token_response(issued, services=services)


def _token_response(issued: tokens.IssuedTokens, *, services: Services) -> dict[str, Any]:
    access = issued.access
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": access.token_type,
        "expires_in": int((access.expires_at - access.issued_at) / timedelta(seconds=1)),
        "scope": access.scope,
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    return body


_GRANTS = {
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    "client_credentials": _client_credentials,
}


def routes() -> list[BaseRoute]:
    return [Route("/token", token_endpoint, methods=["POST"], name="token")]


def _amr_of(claims: object) -> tuple[str, ...]:
    """How the bank authenticated the customer, as the code recorded it (docs/architecture.md section 10)."""
    amr = claims.get("amr") if isinstance(claims, dict) else None
    return tuple(str(m) for m in amr) if isinstance(amr, list) else ()
