"""Token introspection: ``POST /introspect`` (RFC 7662).

The caller authenticates as a client (RFC 7662 section 2.1) and may learn only about tokens issued to itself:
any other token, like an unknown, expired or revoked one, is ``{"active": false}`` (section 2.2), so the
endpoint cannot be used to probe other clients' tokens (section 4). ``cnf`` follows RFC 9449 section 6.2 and
RFC 8705 section 3.2; ``token_type_hint`` is only a hint (section 2.1).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway.errors import InvalidRequest
from gateway.oauth import tokens
from gateway.oauth.client_auth import authenticate_client
from gateway.oauth.token import NO_STORE
from gateway.oauth.token import read_form
from gateway.services import services as get_services


async def introspect(request: Request) -> JSONResponse:
    svc = get_services(request)
    form = await read_form(request)
    authenticated = await authenticate_client(request, form, services=svc)
    value = form.get("token")
    if not value:
        raise InvalidRequest("token is required")
    async with svc.db.session() as session:
        token = await tokens.lookup_token(session, value)
    if token is None or token.client_id != authenticated.client.client_id or not tokens.is_active(token):
        return JSONResponse({"active": False}, headers=NO_STORE)
    body: dict[str, Any] = {
        "active": True,
        "scope": token.scope,
        "client_id": token.client_id,
        "exp": int(token.expires_at.timestamp()),
        "iat": int(token.issued_at.timestamp()),
        "iss": svc.settings.issuer,
        "cnf": tokens.cnf(token),
    }
    if token.kind == tokens.ACCESS:
        body["token_type"] = token.token_type
    else:
        body["token_type"] = "refresh_token"
    if token.psu_id:
        body["sub"] = token.psu_id
    if token.consent_id:
        body["openbanking_intent_id"] = token.consent_id
    return JSONResponse(body, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [Route("/introspect", introspect, methods=["POST"], name="introspect")]
