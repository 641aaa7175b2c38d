"""Dynamic Client Registration: RFC 7591 (register), RFC 7592 (read, update, delete) and OBIE DCR v3.3.

``POST /register`` takes the OBIE signed registration request or an RFC 7591 section 3.1 JSON object, read by
``gateway.oauth.registration_requests``; the software statement must verify against the trusted directory
(``gateway.oauth.software_statements``) and the metadata must fit it and FAPI 2.0
(``gateway.oauth.client_metadata``). Errors are RFC 7591 section 3.2.2 JSON, 400. ``GET``/``PUT``/``DELETE
/register/{ClientId}`` are authorised, as OBIE DCR v3.3 says, by a client-credentials access token of that same
client.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway.errors import InvalidClientMetadata
from gateway.errors import InvalidToken
from gateway.oauth.client_metadata import ClientMetadata
from gateway.oauth.registration_requests import validated
from gateway.security import jose
from gateway.security.access import require_access_token
from gateway.services import Services
from gateway.services import services as get_services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client
from gateway.store.oauth_tables import Token

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _apply(client: Client, meta: ClientMetadata, *, response: dict[str, Any]) -> None:
    client.software_id = meta.software_id
    client.org_id = str(meta.ssa_claims.get("org_id", ""))
    client.client_name = meta.client_name
    client.token_endpoint_auth_method = meta.token_endpoint_auth_method
    client.tls_client_auth_subject_dn = meta.tls_client_auth_subject_dn
    client.redirect_uris = list(meta.redirect_uris)
    client.grant_types = list(meta.grant_types)
    client.scope = meta.scope
    client.software_roles = list(meta.ssa_claims.get("software_roles", []))
    client.jwks = dict(meta.jwks or {})
    client.jwks_uri = meta.jwks_uri
    client.software_statement = meta.software_statement
    client.registration = response


async def register(request: Request) -> Response:
    services = get_services(request)
    meta = await validated(request, services=services)
    # OBIE allows one software to hold several registrations (e.g. one per environment or product), so a
    # software_id registered before simply gets another, new client_id.
    client_id = str(uuid.uuid4())
    issued_at = int(time.time())
    response = meta.response(client_id=client_id, issued_at=issued_at, issuer=services.settings.issuer)
    client = Client(client_id=client_id, token_endpoint_auth_method=meta.token_endpoint_auth_method)
    _apply(client, meta, response=response)
    async with services.db.session() as session:
        session.add(client)
        await session.commit()
    return JSONResponse(response, status_code=201, headers=_NO_STORE)


async def _authorised_client(request: Request, *, services: Services) -> Client:
    """RFC 7592 section 2 / OBIE DCR v3.3: the caller's client-credentials token must belong to ClientId.
    An unknown ClientId and another client's ClientId get the same 401, so neither is revealed, and the
    token presented is revoked (OBIE DCR v3.3: "unknown ClientId → 401 and revoke the token")."""
    context = await require_access_token(request, services=services, grant_types=["client_credentials"])
    client_id = request.path_params["client_id"]
    client = context.client
    if client.client_id != client_id or client.status != "active":
        async with services.db.session() as session:
            await session.execute(
                update(Token)
                .where(col(Token.token_hash) == context.token.token_hash)
                .values(revoked_at=utcnow())
            )
            await session.commit()
        # RFC 6750 section 3 / RFC 9449 section 7.1 challenge, in the scheme the token was presented with.
        challenge = 'error="invalid_token", error_description="token not valid for this registration"'
        if context.token.jkt:
            challenge = f'DPoP {challenge}, algs="{" ".join(jose.FAPI_ALGORITHMS)}"'
        else:
            challenge = f"Bearer {challenge}"
        error = InvalidToken("the access token does not belong to this client registration")
        error.headers["WWW-Authenticate"] = challenge
        raise error
    return client


async def read_registration(request: Request) -> Response:
    services = get_services(request)
    client = await _authorised_client(request, services=services)
    return JSONResponse(client.registration, headers=_NO_STORE)


async def update_registration(request: Request) -> Response:
    services = get_services(request)
    client = await _authorised_client(request, services=services)
    meta = await validated(request, services=services)
    if meta.software_id != client.software_id:
        raise InvalidClientMetadata("a registration cannot move to another software_id")
    # PUT carries the whole registration (OBIE DCR v3.3); it keeps the client_id and, as OBIE requires,
    # does not invalidate tokens already issued.
    issued_at = int(client.registration.get("client_id_issued_at", int(client.created_at.timestamp())))
    response = meta.response(client_id=client.client_id, issued_at=issued_at, issuer=services.settings.issuer)
    async with services.db.session() as session:
        row = await session.get(Client, client.client_id)
        if row is None or row.status != "active":
            raise InvalidToken("unknown client")
        _apply(row, meta, response=response)
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
    # The keys may have moved (jwks <-> jwks_uri): drop any cached copy of the old ones.
    services.client_keys.forget(client.client_id)
    return JSONResponse(response, headers=_NO_STORE)


async def delete_registration(request: Request) -> Response:
    services = get_services(request)
    client = await _authorised_client(request, services=services)
    now = utcnow()
    async with services.db.session() as session:
        row = await session.get(Client, client.client_id)
        if row is not None:
            # The row stays (consents and the audit trail name the client); its status shuts it out.
            row.status = "deleted"
            row.updated_at = now
            session.add(row)
        # OBIE DCR v3.3: deleting a registration invalidates every token issued to it.
        await session.execute(
            update(Token)
            .where(col(Token.client_id) == client.client_id, col(Token.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        await session.commit()
    services.client_keys.forget(client.client_id)
    return Response(status_code=204, headers=_NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route("/register", register, methods=["POST"], name="register"),
        Route("/register/{client_id}", read_registration, methods=["GET"], name="registration"),
        Route("/register/{client_id}", update_registration, methods=["PUT"]),
        Route("/register/{client_id}", delete_registration, methods=["DELETE"]),
    ]
