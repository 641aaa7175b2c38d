"""Steps 2-3 of the enforcement pipeline (docs/architecture.md section 3): the customer's access token.

``gateway.security.access.require_access_token`` does the lookup, expiry, revocation and sender-constraint checks
(RFC 9449 section 7 DPoP, RFC 8705 section 3 certificate binding) in one database round trip. This step adds
what a customer endpoint needs: a token from the authorization-code flow (or its refresh), carrying the scope of
the API, a customer and a consent. R/W API v3.1.11 "HTTP Status Codes" 401: a missing, invalid or expired token,
and a client-credentials token on a PSU endpoint (FCS expects 401), answer 401 without a body; the RFC 6750 /
RFC 9449 ``WWW-Authenticate`` challenge is kept. A missing scope is 403 (R/W API "403 (Forbidden)").
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from gateway.contract.policies import RoutePolicy
from gateway.errors import Forbidden
from gateway.errors import OAuthError
from gateway.errors import ObError
from gateway.errors import Unauthorized
from gateway.security.access import AccessContext
from gateway.security.access import require_access_token
from gateway.services import Services

# Tokens a customer endpoint accepts: issued for the customer's authorization (RFC 6749 section 4.1) or
# refreshed from one (section 6). Never client_credentials (section 4.4: no resource owner).
CUSTOMER_GRANT_TYPES: Final = ("authorization_code", "refresh_token")


def _as_ob_error(exc: OAuthError) -> ObError:
    if exc.status_code == 401:
        error: ObError = Unauthorized(exc.message, detail=exc.detail)
    elif exc.status_code == 403:
        error = Forbidden(exc.message or "insufficient scope", detail=exc.detail)
    else:
        error = ObError(exc.message, detail=exc.detail, status_code=exc.status_code)
    error.headers.update(exc.headers)
    return error


async def require_customer_token(request: Request, *, services: Services, policy: RoutePolicy) -> AccessContext:
    """The verified customer token for ``policy``'s route; raises an OBIE 401/403 on any doubt."""
    try:
        access = await require_access_token(
            request, services=services, scopes=(policy.scope,), grant_types=CUSTOMER_GRANT_TYPES
        )
    except OAuthError as exc:
        raise _as_ob_error(exc) from None
    if not access.token.consent_id or not access.token.psu_id:
        # A customer token without a consent or a customer grants nothing (fail closed).
        error = Unauthorized("token is not bound to a customer consent")
        error.headers["WWW-Authenticate"] = 'DPoP error="invalid_token"' if access.token.jkt else (
            'Bearer error="invalid_token"'
        )
        raise error
    return access
