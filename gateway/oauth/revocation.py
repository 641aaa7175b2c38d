"""Token revocation: ``POST /revoke`` (RFC 7009).

The caller authenticates as a client (section 2.1) and may revoke only its own tokens. A refresh token
revokes its whole grant, the access tokens issued with it included (section 2.1, "SHOULD also invalidate
all access tokens based on the same authorization grant"). An unknown token, or another client's, is
answered 200 like a revoked one (section 2.2), so the endpoint leaks nothing. ``token_type_hint`` is only a
hint: the token is found by its hash whatever the hint says (section 2.1).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from gateway.errors import InvalidRequest
from gateway.errors import UnsupportedTokenType
from gateway.oauth import tokens
from gateway.oauth.client_auth import authenticate_client
from gateway.oauth.token import NO_STORE
from gateway.oauth.token import read_form
from gateway.services import services as get_services

_HINTS = frozenset({"access_token", "refresh_token"})


async def revoke(request: Request) -> Response:
    svc = get_services(request)
    form = await read_form(request)
    authenticated = await authenticate_client(request, form, services=svc)
    value = form.get("token")
    if not value:
        raise InvalidRequest("token is required")
    hint = form.get("token_type_hint")
    if hint is not None and hint not in _HINTS:
        # RFC 7009 section 2.2.1.
        raise UnsupportedTokenType(f"token_type_hint {hint} is not supported")
    async with svc.db.session() as session:
        await tokens.revoke_token(session, value=value, client_id=authenticated.client.client_id)
        await session.commit()
    return Response(status_code=200, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [Route("/revoke", revoke, methods=["POST"], name="revoke")]
