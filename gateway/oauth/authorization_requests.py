"""The pushed request behind an authorization (RFC 9126 section 4): found for this client and, once the customer
acts, for this browser; then used up, atomically, when the customer approves or denies, so it serves one
authorization only, together with the code and the redirect back to the client (RFC 6749 section 4.1.2, with
``iss``: RFC 9207 section 2). Codes live ``settings.code_lifetime`` and never more than 60 s (FAPI 2.0 SP section
5.3.2.2), are stored hashed, bound to the client, redirect_uri, PKCE challenge and the DPoP key of the PAR.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import InvalidRequestUri
from gateway.oauth import psu_session
from gateway.oauth.par import handle_of
from gateway.oauth.psu_session import PsuSession
from gateway.services import Services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import AuthorizationCode
from gateway.store.oauth_tables import Client
from gateway.store.oauth_tables import PushedRequest
from gateway.store.oauth_tables import new_secret
from gateway.store.oauth_tables import secret_hash

# FAPI 2.0 SP section 5.3.2.2: authorization codes live at most 60 seconds, whatever the setting says.
MAX_CODE_LIFETIME = 60


class Pending:
    """A pushed request found for this browser, with the client that pushed it."""

    def __init__(self, row: PushedRequest, client: Client, handle_hash: str, request_uri: str) -> None:
        self.row = row
        self.client = client
        self.handle_hash = handle_hash
        self.request_uri = request_uri

    @property
    def params(self) -> dict[str, Any]:
        return self.row.params


ConsentStep = Callable[[AsyncSession], Awaitable[None]]


async def find_pending(
    db: AsyncSession,
    *,
    client_id: object,
    request_uri: object,
    session: PsuSession | None,
    require_started: bool,
) -> Pending:
    if not isinstance(client_id, str) or not isinstance(request_uri, str):
        raise InvalidRequestUri("client_id and request_uri are required")
    handle = handle_of(request_uri)
    if handle is None:
        raise InvalidRequestUri("request_uri is not one this server issued")
    handle_hash = secret_hash(handle)
    row = await db.get(PushedRequest, handle_hash)
    if row is None or row.client_id != client_id:
        # RFC 9126 section 4: the request_uri must have been pushed by this client_id.
        raise InvalidRequestUri("unknown request_uri for this client")
    if row.used_at is not None:
        raise InvalidRequestUri("request_uri already used")
    client = await db.get(Client, client_id)
    if client is None or client.status != "active":
        raise InvalidRequestUri("unknown request_uri for this client")
    now = int(time.time())
    started = session.pending_since(handle_hash) if session is not None else None
    in_window = started is not None and started > now - psu_session.INTERACTION_WINDOW
    if require_started and not in_window:
        raise InvalidRequestUri("this authorization was not started in this browser, or took too long")
    if not in_window and row.expires_at <= utcnow():
        # RFC 9126 section 2.2: expires_in bounds when the request_uri may first be presented.
        raise InvalidRequestUri("request_uri expired")
    return Pending(row, client, handle_hash, request_uri)


async def finish(db: AsyncSession, *, pending: Pending, psu_id: str, auth_time: int | None, approve: bool,
                  services: Services, consent_step: ConsentStep | None = None, amr: tuple[str, ...] = ()) -> str:
    """Use up the pushed request and build the redirect back to the client (RFC 6749 section 4.1.2).

    ``consent_step`` authorises or rejects the consent in ``db``; the consent service commits it together with
    the used-up request and the code, or rolls all of them back when it refuses. ``amr``: how the bank
    authenticated the customer (its identity provider's ID token), carried on to the gateway's ID token.
    """
    now = utcnow()
    result = await db.execute(
        update(PushedRequest)
        .where(col(PushedRequest.handle_hash) == pending.handle_hash, col(PushedRequest.used_at).is_(None))
        .values(used_at=now, psu_id=psu_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # RFC 9126 section 4: one authorization per request_uri, even under concurrent submissions.
        raise InvalidRequestUri("request_uri already used")
    params = pending.params
    response: dict[str, str] = {}
    if approve:
        code = new_secret()
        lifetime = min(services.settings.code_lifetime, MAX_CODE_LIFETIME)
        db.add(
            AuthorizationCode(
                code_hash=secret_hash(code),
                client_id=pending.client.client_id,
                redirect_uri=params["redirect_uri"],
                scope=params["scope"],
                code_challenge=params["code_challenge"],
                dpop_jkt=pending.row.dpop_jkt,
                psu_id=psu_id,
                consent_id=params.get("intent_id"),
                nonce=params.get("nonce"),
                claims={"claims": params.get("claims") or {},
                        "authorization_details": params.get("authorization_details") or [],
                        **({"amr": list(amr)} if amr else {})},
                auth_time=now if auth_time is None else _from_ts(auth_time),
                expires_at=now + timedelta(seconds=lifetime),
            )
        )
        response["code"] = code
    else:
        response["error"] = "access_denied"
        response["error_description"] = "The customer declined the request"
    if params.get("state"):
        response["state"] = params["state"]
    # RFC 9207 section 2: the issuer identifies who answers, against mix-up attacks.
    response["iss"] = services.settings.issuer
    if consent_step is not None:
        await consent_step(db)
    await db.commit()
    return _with_query(params["redirect_uri"], response)


def _from_ts(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
