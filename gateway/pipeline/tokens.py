"""Steps 2-3 of the enforcement pipeline (docs/architecture.md section 3): the access token, and the one
conversion of its refusals to the OBIE form (``obie_token_refusal``).

``gateway.security.access.require_access_token`` does the lookup, expiry, revocation and sender-constraint checks
(RFC 9449 section 7 DPoP, RFC 8705 section 3 certificate binding) in one database round trip. This step adds
what a customer endpoint needs: a token from the authorization-code flow (or its refresh), carrying the scope of
the API, a customer and a consent. R/W API v3.1.11 "HTTP Status Codes" 401: a missing, invalid or expired token,
and a client-credentials token on a PSU endpoint (FCS expects 401), answer 401 without a body; the RFC 6750 /
RFC 9449 ``WWW-Authenticate`` challenge is kept. A missing scope is 403 (R/W API "403 (Forbidden)").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from starlette.requests import Request

from consent import api as consent_api
from gateway.contract.policies.routes import RoutePolicy
from gateway.errors import Forbidden
from gateway.errors import InsufficientScope
from gateway.errors import OAuthError
from gateway.errors import ObError
from gateway.errors import ObErrorItem
from gateway.errors import Unauthorized
from gateway.security.access import AccessContext
from gateway.security.access import require_access_token
from gateway.services import Services
from gateway.store.oauth_tables import Client

# Tokens a customer endpoint accepts: issued for the customer's authorization (RFC 6749 section 4.1) or
# refreshed from one (section 6). Never client_credentials (section 4.4: no resource owner).
CUSTOMER_GRANT_TYPES: Final = ("authorization_code", "refresh_token")
# Tokens a TPP endpoint (consents, payment order status) accepts: the TPP's own (section 4.4).
CLIENT_GRANT_TYPES: Final = ("client_credentials",)


def obie_token_refusal(exc: OAuthError) -> ObError:
    """An access-token refusal in OBIE form, for every OBIE endpoint (consents, AIS, PIS, CBPII).

    A token without the route's scope is 403 ``OBErrorResponse1`` (v3.1.11 names no code for it: we answer
    ``UK.OBIE.Header.Invalid`` on ``Authorization``); every other problem, whatever its OAuth status, is 401
    without a body (R/W API "HTTP Status Codes"; fail closed). The RFC 6750 / RFC 9449 ``WWW-Authenticate``
    challenge is kept (``insufficient_scope`` included, RFC 6750 section 3.1).
    """
    if isinstance(exc, InsufficientScope):
        refused: ObError = Forbidden(
            exc.message,
            detail=exc.detail,
            errors=[ObErrorItem("UK.OBIE.Header.Invalid", exc.message, "Authorization")],
        )
    else:
        refused = Unauthorized(exc.message, detail=exc.detail)
    refused.headers.update(exc.headers)
    refused.cause_code = exc.error
    return refused


async def require_client_token(request: Request, *, services: Services, scopes: Sequence[str]) -> Client:
    """The TPP's own token (``client_credentials``, docs/obie-notes.md section 2 legend "CC") holding one of
    ``scopes``: a customer's token is refused with 401 like a missing one (the FCS expects 401 for a token of the
    wrong grant)."""
    try:
        context = await require_access_token(
            request, services=services, scopes=scopes, grant_types=CLIENT_GRANT_TYPES
        )
    except OAuthError as exc:
        raise obie_token_refusal(exc) from None
    return context.client


async def client_token(request: Request, *, services: Services, scope: str) -> consent_api.TppCaller:
    """The TPP's client-credentials token with ``scope`` checked, as the consent endpoints name their caller."""
    client = await require_client_token(request, services=services, scopes=(scope,))
    return consent_api.TppCaller(client_id=client.client_id, principal=client)


async def require_customer_token(request: Request, *, services: Services, policy: RoutePolicy) -> AccessContext:
    """The verified customer token for ``policy``'s route; raises an OBIE 401/403 on any doubt."""
    try:
        access = await require_access_token(
            request, services=services, scopes=policy.scopes, grant_types=CUSTOMER_GRANT_TYPES,
            with_consent=True,
        )
    except OAuthError as exc:
        raise obie_token_refusal(exc) from None
    if not access.token.consent_id or not access.token.psu_id:
        # A customer token without a consent or a customer grants nothing (fail closed).
        error = Unauthorized("token is not bound to a customer consent")
        error.headers["WWW-Authenticate"] = 'DPoP error="invalid_token"' if access.token.jkt else (
            'Bearer error="invalid_token"'
        )
        raise error
    return access
