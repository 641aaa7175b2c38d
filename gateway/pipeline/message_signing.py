"""OBIE message signing at the edge of an operation: the TPP's ``x-jws-signature`` checked on requests whose
rule in ``policies/routes.yaml`` says ``signed_request``, and the gateway's own on every answer with a body of an
operation whose rule says ``signed_response``, refusals included (R/W API v3.1.11 "Message Signing"; the
payment-initiation endpoint table: "Signed Response"; docs/obie-notes.md section 5: "should be on error bodies of
such endpoints"). Bodyless answers (401, 405, 406, 415) have nothing to sign. The JWS itself is
``gateway.security.jws``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent import api as consent_api
from consent.errors import ConsentError
from gateway import errors
from gateway.security import jose
from gateway.security import jws
from gateway.security.client_keys import JwksUnavailable
from gateway.services import Services

_log = logging.getLogger(__name__)


def signature_verifier(services: Services) -> consent_api.VerifySignature:
    """The TPP's ``x-jws-signature`` checked against its registered keys (``gateway.security.jws``)."""
    profile = jws.SigningProfile.from_settings(services.settings)

    async def verify(request: Request, caller: consent_api.TppCaller, raw: bytes) -> None:
        client = caller.principal
        if client is None:
            raise errors.ObError("No registered client for the signature check")  # fail closed: 500
        header_value = request.headers.get(jws.HEADER)
        keys = await _client_keys(services, client, header_value)
        jws.verify_request_signature(
            header_value=header_value,
            body=raw,
            client=client,
            keys=keys,
            now=None,
            trust_anchor=profile.trust_anchor,
            clock_skew=services.policies.fapi.clock_skew_ahead,
            algorithms=services.policies.fapi.algorithms["message_signature"],
        )

    return verify


async def _client_keys(services: Services, client: Any, header_value: str | None) -> list[dict[str, Any]]:
    try:
        keys = await services.client_keys.keys_for(client)
        kid = _kid_of(header_value)
        if kid is not None and not any(k.get("kid") == kid for k in keys):
            # A kid we do not know may be a key the TPP rotated in at its jwks_uri: refetch once.
            keys = await services.client_keys.keys_for(client, refresh=True)
    except JwksUnavailable:
        # Unreachable JWKS: no key to check against, so the kid resolves to nothing and the request fails.
        return []
    return keys


def _kid_of(header_value: str | None) -> str | None:
    if not header_value:
        return None
    try:
        kid = jose.parse_detached(header_value.strip()).header.get("kid")
    except jose.JoseError:
        return None
    return kid if isinstance(kid, str) else None


def _render_refusal(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, errors.GatewayError | ConsentError):
        _log.exception("unexpected error on a payment-consent endpoint", exc_info=exc)
    return errors.respond(request, exc)


def sign_responses(route: Route, services: Services, *, operations: Mapping[str, str]) -> Route:
    """``route`` whose every answer with a body carries the gateway's ``x-jws-signature``, refusals included, for
    the methods whose operation (``operations``: method -> operationId) the rulebook marks ``signed_response``.
    ``route`` itself when it serves no such operation."""
    rules = services.policies.by_operation_id
    signed_methods = frozenset(method.upper() for method, op in operations.items() if rules[op].signed_response)
    if not signed_methods:
        return route
    endpoint = route.endpoint

    async def signed(request: Request) -> Response:
        if request.method not in signed_methods:
            return await endpoint(request)
        try:
            response = await endpoint(request)
        except Exception as exc:  # rendered here so that refusals are signed too
            response = _render_refusal(request, exc)
        body = bytes(response.body) if response.body else b""
        if body:
            response.headers[jws.HEADER] = jws.sign_response(
                body=body, keys=services.keys, settings=services.settings,
                algorithms=services.policies.fapi.algorithms["message_signature"])
        return response

    return Route(route.path, signed, methods=sorted(route.methods or ()), name=route.name)
