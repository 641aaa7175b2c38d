"""The TPP consent endpoints (``consent.api``) wired to the gateway: the TPP's client-credentials token and its
tier budget of class ``consent`` (``policies/rate-limits.yaml``), the schema check, and message signing.

The steps themselves are the pipeline's, shared with AIS, PIS and CBPII: ``gateway.pipeline.tokens`` (the token
and the OBIE form of its refusals), ``gateway.pipeline.body_schema`` (docs/architecture.md section 3 step 6) and
``gateway.pipeline.message_signing`` (R/W API v3.1.11 "Message Signing", as each route's rule says).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import api as consent_api
from gateway.pipeline.body_schema import body_validator
from gateway.pipeline.message_signing import sign_responses
from gateway.pipeline.message_signing import signature_verifier
from gateway.pipeline.ratelimit import RateLimiter
from gateway.pipeline.ratelimit import tier_of
from gateway.pipeline.ratelimit import tier_only
from gateway.pipeline.tokens import client_token
from gateway.services import Services


async def authenticate(
    request: Request, *, services: Services, scope: str, operation_id: str, limiter: RateLimiter
) -> consent_api.TppCaller:
    """The TPP's token checked, then the call counted against its tier's budget for the operation's rate class
    (``policies/rate-limits.yaml``, class ``consent``); the budget's headers go on the answer, refusals included."""
    caller = await client_token(request, services=services, scope=scope)
    client = caller.principal
    route = services.policies.by_operation_id[operation_id]  # the loader guarantees every consent operation
    request.state.rate_headers = await limiter.check(
        client_id=client.client_id, tier=tier_of(client), route=route, consent_id="", account_id=None,
        customer_present=False,
    )
    return caller


def with_rate_headers(route: Route) -> Route:
    """``route`` whose successful answers carry the ``RateLimit-*`` headers its call was counted against
    (refusals get them from ``gateway.errors.respond``)."""
    endpoint = route.endpoint

    async def counted(request: Request) -> Response:
        response = await endpoint(request)
        for name, value in (getattr(request.state, "rate_headers", None) or {}).items():
            response.headers.setdefault(name, value)
        return response

    return Route(route.path, counted, methods=sorted(route.methods or ()), name=route.name)


# --------------------------------------------------------------------------- message signing


# --------------------------------------------------------------------------- schema validation


def routes(services: Services) -> list[BaseRoute]:
    """The consent endpoints wired to this gateway's token check, database, issuer and OpenAPI documents."""

    # Client-token calls name no consent: only the tier budget is counted (gateway.pipeline.ratelimit.tier_only).
    limiter = RateLimiter.create(policy=tier_only(services.policies.rate_limits),
                                 redis_url=services.settings.redis_url, prefix=services.settings.redis_prefix)

    async def authenticate_scope(request: Request, scope: str, operation_id: str) -> consent_api.TppCaller:
        return await authenticate(request, services=services, scope=scope, operation_id=operation_id,
                                  limiter=limiter)

    out = consent_api.routes(
        authenticate=authenticate_scope,
        sessions=services.db.session,
        base_url=services.settings.issuer,
        base_paths={name: api.base_path for name, api in services.specs.apis.items()},
        validate_body=body_validator(services),
        verify_signature=signature_verifier(services),
        rules_of=lambda operation_id: services.policies.by_operation_id[operation_id],
        idempotency_window=services.policies.fapi.idempotency_window,
    )
    counted = [with_rate_headers(route) if isinstance(route, Route) else route for route in out]
    return [
        sign_responses(route, services, operations=services.policies.operations_at(route.path))
        if isinstance(route, Route)
        else route
        for route in counted
    ]
