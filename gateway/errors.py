"""One error hierarchy, rendered in one place.

Two wire shapes exist:

* OBIE resource APIs answer ``OBErrorResponse1`` (Read/Write API v3.1.11, "Error Response Structure") with
  ``UK.OBIE.*`` codes; 401/404/405/406/415 carry no body there. A 429 carries ``OBErrorResponse1`` too, naming
  the budget that tripped and when it resets (the OAS documents only its headers, so a body is allowed, and a TPP
  needs to know which budget to wait for); its code is in obgw's own namespace (the codes are
  ``x-namespaced-enum``: ``UK.OBIE.*`` names no rate-limit code).
* Every answer of a rate-limited route carries the ``RateLimit-*`` headers of the budgets it was counted against,
  errors included: the pipeline leaves them in ``request.state.rate_headers`` and the handlers here add them.
* OAuth endpoints (token, PAR, registration, introspection, revocation) answer RFC 6749 section 5.2 /
  RFC 7591 section 3.2.2 JSON ``{"error", "error_description"}``; resource-server token failures add
  RFC 6750 / RFC 9449 ``WWW-Authenticate`` challenges.

``message`` is public (never secrets); ``detail`` is for logs only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response

from consent.errors import ConsentError
from consent.wire import JSON_MEDIA_TYPE

INTERACTION_HEADER = "x-fapi-interaction-id"
# The conformance suite expects exactly this on OBIE responses (docs/obie-notes.md section 5, Content-Type).


class GatewayError(Exception):
    """Root of every error obgw renders on purpose."""

    status_code: ClassVar[int] = 500

    def __init__(self, message: str = "", *, detail: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message
        self.detail = detail
        self.headers: dict[str, str] = {}


# --------------------------------------------------------------------------- OBIE resource errors


@dataclass(frozen=True)
class ObErrorItem:
    code: str
    message: str
    path: str | None = None
    url: str | None = None

    def as_json(self) -> dict[str, str]:
        body = {"ErrorCode": self.code, "Message": self.message[:500]}
        if self.path:
            body["Path"] = self.path
        if self.url:
            body["Url"] = self.url
        return body


class ObError(GatewayError):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "UK.OBIE.UnexpectedError"
    has_body: ClassVar[bool] = True

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        url: str | None = None,
        detail: str | None = None,
        errors: list[ObErrorItem] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message or "An unexpected error occurred", detail=detail)
        self.path = path
        self.url = url
        self.errors = errors or [ObErrorItem(self.code, self.message, path, url)]
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        # The code of the refusal this one renders in OBIE form (an access-token refusal keeps its OAuth ``error``,
        # which a 401 without a body cannot carry), for ``refusal_code``.
        self.cause_code = ""


class BadRequest(ObError):
    status_code = 400
    code = "UK.OBIE.Field.Invalid"


class FieldExpected(BadRequest):
    code = "UK.OBIE.Field.Expected"


class FieldInvalid(BadRequest):
    code = "UK.OBIE.Field.Invalid"


class FieldInvalidDate(BadRequest):
    code = "UK.OBIE.Field.InvalidDate"


class FieldMissing(BadRequest):
    code = "UK.OBIE.Field.Missing"


class FieldUnexpected(BadRequest):
    code = "UK.OBIE.Field.Unexpected"


class HeaderInvalid(BadRequest):
    code = "UK.OBIE.Header.Invalid"


class HeaderMissing(BadRequest):
    code = "UK.OBIE.Header.Missing"


class ResourceConsentMismatch(BadRequest):
    code = "UK.OBIE.Resource.ConsentMismatch"


class InvalidConsentStatus(BadRequest):
    code = "UK.OBIE.Resource.InvalidConsentStatus"


class ResourceInvalidFormat(BadRequest):
    code = "UK.OBIE.Resource.InvalidFormat"


class ResourceNotFound(BadRequest):
    """Unknown resource id: 400 per the OBIE status-code rules, not 404."""

    code = "UK.OBIE.Resource.NotFound"


class SignatureInvalid(BadRequest):
    code = "UK.OBIE.Signature.Invalid"


class SignatureInvalidClaim(BadRequest):
    code = "UK.OBIE.Signature.InvalidClaim"


class SignatureMissingClaim(BadRequest):
    code = "UK.OBIE.Signature.MissingClaim"


class SignatureMalformed(BadRequest):
    code = "UK.OBIE.Signature.Malformed"


class SignatureMissing(BadRequest):
    code = "UK.OBIE.Signature.Missing"


class SignatureUnexpected(BadRequest):
    code = "UK.OBIE.Signature.Unexpected"


class ResourceAlreadyExists(ObError):
    status_code = 409
    code = "UK.OBIE.Rules.ResourceAlreadyExists"


class Forbidden(ObError):
    status_code = 403
    code = "UK.OBIE.Resource.InvalidConsentStatus"


class Reauthenticate(Forbidden):
    code = "UK.OBIE.Reauthenticate"


class Unauthorized(ObError):
    """Missing, invalid or expired access token: 401 without a body (v3.1.11), RFC 6750 challenge."""

    status_code = 401
    has_body = False


class NotFound(ObError):
    status_code = 404
    has_body = False


class MethodNotAllowed(ObError):
    status_code = 405
    has_body = False


class NotAcceptable(ObError):
    status_code = 406
    has_body = False


class UnsupportedMediaType(ObError):
    status_code = 415
    has_body = False


class PayloadTooLarge(ObError):
    status_code = 413
    code = "UK.OBIE.Field.Invalid"


# The ErrorCode of a 429 per budget that tripped (policies/rate-limits.yaml): a TPP can tell a spent tier budget
# (slow down) from a spent consent budget (this customer's data) and the PSD2 unattended rule (wait for the customer).
RATE_LIMIT_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "": "UK.OBGW.RateLimit.Exceeded",  # not one of the rulebook's budgets (the sandbox's scenario control)
        "tier": "UK.OBGW.RateLimit.Tier",
        "consent": "UK.OBGW.RateLimit.Consent",
        "unattended": "UK.OBGW.RateLimit.Unattended",
    }
)


class TooManyRequests(ObError):
    """429: a budget is spent. ``budget`` names it, one of ``RATE_LIMIT_CODES``."""

    status_code = 429
    code = RATE_LIMIT_CODES[""]

    def __init__(self, message: str = "Too many requests", *, retry_after: int, budget: str = "") -> None:
        super().__init__(message, errors=[ObErrorItem(RATE_LIMIT_CODES[budget], message)])
        self.budget = budget
        self.headers["Retry-After"] = str(max(1, retry_after))


class UpstreamError(ObError):
    status_code = 502


# --------------------------------------------------------------------------- OAuth errors


class OAuthError(GatewayError):
    """RFC 6749 section 5.2 error; subclasses fix ``error`` and the HTTP status."""

    status_code: ClassVar[int] = 400
    error: ClassVar[str] = "invalid_request"

    def __init__(self, description: str = "", *, detail: str | None = None, status_code: int | None = None):
        super().__init__(description, detail=detail)
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.message:
            out["error_description"] = self.message
        return out


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    status_code = 401
    error = "invalid_client"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    status_code = 403
    error = "access_denied"


class InvalidRequestUri(OAuthError):
    """RFC 9126 section 4: unknown, expired or already used ``request_uri``."""

    error = "invalid_request_uri"


class InvalidRequestObject(OAuthError):
    error = "invalid_request_object"


class InvalidDpopProof(OAuthError):
    """RFC 9449 section 5 (token endpoint) and 7.1 (resource server)."""

    error = "invalid_dpop_proof"


class UseDpopNonce(OAuthError):
    error = "use_dpop_nonce"

    def __init__(self, nonce: str, description: str = "Authorization server requires nonce in DPoP proof"):
        super().__init__(description)
        self.headers["DPoP-Nonce"] = nonce


class InvalidToken(OAuthError):
    """RFC 6750 section 3.1 at a resource server: 401 with a ``WWW-Authenticate`` challenge."""

    status_code = 401
    error = "invalid_token"


class InsufficientScope(OAuthError):
    status_code = 403
    error = "insufficient_scope"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidClientMetadata(OAuthError):
    error = "invalid_client_metadata"


class InvalidRedirectUri(OAuthError):
    error = "invalid_redirect_uri"


class InvalidSoftwareStatement(OAuthError):
    error = "invalid_software_statement"


class UnapprovedSoftwareStatement(OAuthError):
    error = "unapproved_software_statement"


class TemporarilyUnavailable(OAuthError):
    status_code = 503
    error = "temporarily_unavailable"


class InvalidAuthorizationDetails(OAuthError):
    """RFC 9396 section 5."""

    error = "invalid_authorization_details"


class ServerError(OAuthError):
    status_code = 500
    error = "server_error"


# --------------------------------------------------------------------------- rendering


def interaction_id(request: Request) -> str:
    value = getattr(request.state, "interaction_id", None)
    if value:
        return str(value)
    return request.headers.get(INTERACTION_HEADER) or str(uuid.uuid4())


def render_ob_error(exc: ObError, *, interaction: str) -> Response:
    headers = {INTERACTION_HEADER: interaction, **exc.headers}
    if not exc.has_body:
        return Response(status_code=exc.status_code, headers=headers)
    body = {
        "Code": f"{exc.status_code} {_REASONS.get(exc.status_code, 'Error')}",
        "Id": str(uuid.uuid4()),
        "Message": exc.message[:500],
        "Errors": [item.as_json() for item in exc.errors],
    }
    return JSONResponse(body, status_code=exc.status_code, headers=headers, media_type=JSON_MEDIA_TYPE)


def render_oauth_error(exc: OAuthError, *, interaction: str) -> Response:
    headers = {INTERACTION_HEADER: interaction, "Cache-Control": "no-store", **exc.headers}
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def render(exc: GatewayError, *, interaction: str) -> Response:
    if isinstance(exc, ObError):
        return render_ob_error(exc, interaction=interaction)
    if isinstance(exc, OAuthError):
        return render_oauth_error(exc, interaction=interaction)
    return render_ob_error(ObError(), interaction=interaction)


def from_consent_error(exc: ConsentError) -> ObError:
    """The consent domain's refusals carry their OBIE status and code; render them like ours."""
    error = ObError(exc.message, path=exc.path, detail=exc.detail, status_code=exc.status_code,
                    errors=[ObErrorItem(exc.ob_code, exc.message, exc.path)])
    return error


# Refusals that carry no body (and so no OBIE code) are known by their status.
_BODILESS: Final = MappingProxyType({401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                                     406: "not_acceptable", 415: "unsupported_media_type"})
_CODE_SHAPE: Final = re.compile(r"UK\.(?:OBIE|OBGW)(?:\.[A-Za-z]+)+|[a-z_]{1,64}")


def refusal_code(exc: BaseException) -> str:
    """The fixed code a refusal is known by: the first OBIE error code, the OAuth ``error`` or the consent domain's
    code; ``UK.OBIE.UnexpectedError`` for anything else. Used as a metrics label (docs/production.md section 5), so
    it is never request data: a code of an unexpected shape is reported as unexpected."""
    if isinstance(exc, ObError) and exc.cause_code:
        code = exc.cause_code
    elif isinstance(exc, ObError) and not exc.has_body:
        code = _BODILESS.get(exc.status_code, ObError.code)
    elif isinstance(exc, ObError):
        code = exc.errors[0].code if exc.errors else exc.code
    elif isinstance(exc, OAuthError):
        code = exc.error
    elif isinstance(exc, ConsentError):
        code = exc.ob_code
    else:
        code = ObError.code
    return code if _CODE_SHAPE.fullmatch(code) else ObError.code


def respond(request: Request, exc: Exception) -> Response:
    """The one answer to a refusal: ours, the consent domain's or an unexpected one (500, nothing leaked), with
    the ``RateLimit-*`` headers of the budgets the call was counted against (``request.state.rate_headers``)."""
    interaction = interaction_id(request)
    if isinstance(exc, GatewayError):
        response = render(exc, interaction=interaction)
    elif isinstance(exc, ConsentError):
        response = render_ob_error(from_consent_error(exc), interaction=interaction)
    else:
        response = render_ob_error(ObError(), interaction=interaction)
    counted = getattr(request.state, "rate_headers", None)
    if counted:
        for name, value in counted.items():
            if name not in response.headers:
                response.headers[name] = value
    return response


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return respond(request, exc)


async def handle_consent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsentError)
    return respond(request, exc)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    return respond(request, exc)


EXCEPTION_HANDLERS: Mapping[type[Exception], object] = {
    GatewayError: handle_gateway_error,
    ConsentError: handle_consent_error,
    Exception: handle_unexpected,
}

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
