"""The gateway side of the TPP consent endpoints (``consent.api``): token check, OBIE error shape, schema check.

* Token: a sender-constrained access token from the ``client_credentials`` grant with the API's scope
  (docs/obie-notes.md section 2 legend: consent endpoints take the TPP's own token, "CC"). A customer's token is refused
  with 401 like a missing one (the FCS expects 401 for a token of the wrong grant).
* Shape: R/W API v3.1.11 "HTTP Status Codes": 401 carries no body on OBIE paths, so token failures keep their
  RFC 6750 / RFC 9449 ``WWW-Authenticate`` challenge but lose the OAuth JSON body. A token without the scope is
  403 with ``OBErrorResponse1`` (v3.1.11 names no code for it: we answer ``UK.OBIE.Header.Invalid`` on
  ``Authorization``) and keeps its ``insufficient_scope`` challenge (RFC 6750 section 3.1).
* Schema: request bodies are validated against the operation's schema in the served OBIE document with openapi-core
  (docs/architecture.md section 3 step 6); each violation becomes one ``Errors`` item with its JSON path.
* Message signing (``gateway.security.jws``; R/W API "Message Signing"): a consent POST whose rule in
  ``policies/routes.yaml`` says ``signed_request`` must carry the TPP's ``x-jws-signature``, and every answer with
  a body, errors included, of an operation whose rule says ``signed_response`` carries the gateway's own (the
  payment-initiation endpoint table: "Signed Response"; docs/obie-notes.md section 5: "should be on error bodies of
  such endpoints"). Bodyless answers (401, 405, 406, 415) have nothing to sign.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final

from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_core.validation.request.validators import V30RequestBodyValidator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import api as consent_api
from consent.errors import ConsentError
from gateway import errors
from gateway.pipeline.ratelimit import RateLimiter
from gateway.pipeline.ratelimit import tier_of
from gateway.pipeline.ratelimit import tier_only
from gateway.security import jose
from gateway.security import jws
from gateway.security.access import require_access_token
from gateway.security.client_keys import JwksUnavailable
from gateway.services import Services
from gateway.store.oauth_tables import Client

_CLIENT_CREDENTIALS: Final = ("client_credentials",)
_log = logging.getLogger(__name__)


def _obie_token_error(exc: errors.OAuthError) -> errors.ObError:
    """An access-token refusal in OBIE form (module docstring)."""
    if isinstance(exc, errors.InsufficientScope):
        refused: errors.ObError = errors.Forbidden(
            exc.message,
            detail=exc.detail,
            errors=[errors.ObErrorItem("UK.OBIE.Header.Invalid", exc.message, "Authorization")],
        )
    else:
        # Every other token problem, whatever its OAuth status, is 401 without a body (fail closed).
        refused = errors.Unauthorized(exc.message, detail=exc.detail)
    refused.headers.update(exc.headers)
    return refused


async def _token_client(request: Request, *, services: Services, scope: str) -> Client:
    try:
        context = await require_access_token(
            request, services=services, scopes=[scope], grant_types=_CLIENT_CREDENTIALS
        )
    except errors.OAuthError as exc:
        raise _obie_token_error(exc) from None
    return context.client


async def client_token(request: Request, *, services: Services, scope: str) -> consent_api.TppCaller:
    """The TPP's client-credentials token with ``scope`` checked; refusals answered the OBIE way."""
    client = await _token_client(request, services=services, scope=scope)
    return consent_api.TppCaller(client_id=client.client_id, principal=client)


async def authenticate(
    request: Request, *, services: Services, scope: str, operation_id: str, limiter: RateLimiter
) -> consent_api.TppCaller:
    """The TPP's token checked, then the call counted against its tier's budget for the operation's rate class
    (``policies/rate-limits.yaml``, class ``consent``); the budget's headers go on the answer, refusals included."""
    client = await _token_client(request, services=services, scope=scope)
    route = services.policies.by_operation_id[operation_id]  # the loader guarantees every consent operation
    request.state.rate_headers = await limiter.check(
        client_id=client.client_id, tier=tier_of(client), route=route, consent_id="", account_id=None,
        customer_present=False,
    )
    return consent_api.TppCaller(client_id=client.client_id, principal=client)


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


# --------------------------------------------------------------------------- schema validation


@dataclass
class _BodyRequest:
    """The slice of an HTTP request openapi-core's body validator reads (``openapi_core.protocols.Request``)."""

    host_url: str
    path: str
    method: str
    body: bytes
    content_type: str = "application/json"
    parameters: RequestParameters = field(default_factory=RequestParameters)


_REQUIRED: Final = re.compile(r"^'(?P<name>.+)' is a required property$")


def ob_path(parts: Iterable[Any]) -> str:
    """A JSON location as OBIE writes ``Path``: ``Data.Initiation.InstructedAmount``, ``Data.Permissions[1]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _items(error: Any) -> list[errors.ObErrorItem]:
    """One jsonschema ``ValidationError`` as OBIE error items (docs/obie-notes.md section 6 codes)."""
    location = list(error.absolute_path)
    if error.validator == "required":
        found = _REQUIRED.match(error.message)
        names = [found.group("name")] if found else []
        return [
            errors.ObErrorItem("UK.OBIE.Field.Missing", f"{name} is required", ob_path([*location, name]))
            for name in names
        ] or [errors.ObErrorItem("UK.OBIE.Field.Missing", error.message, ob_path(location) or None)]
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - known) if isinstance(error.instance, dict) else []
        return [
            errors.ObErrorItem(
                "UK.OBIE.Field.Unexpected", f"{name} is not allowed", ob_path([*location, name])
            )
            for name in extra
        ] or [errors.ObErrorItem("UK.OBIE.Field.Unexpected", error.message, ob_path(location) or None)]
    if error.validator == "format" and error.validator_value in ("date-time", "date"):
        return [
            errors.ObErrorItem(
                "UK.OBIE.Field.InvalidDate",
                "Expected an ISO 8601 date-time with a time zone",
                ob_path(location),
            )
        ]
    if not location:
        return [errors.ObErrorItem("UK.OBIE.Resource.InvalidFormat", "The body must be a JSON object")]
    return [errors.ObErrorItem("UK.OBIE.Field.Invalid", error.message[:500], ob_path(location))]


def refusal(schema_errors: Iterable[Any]) -> errors.ObError:
    """Schema violations as one 400 ``OBErrorResponse1`` listing each (stable order: by path)."""
    items = sorted(
        (item for error in schema_errors for item in _items(error)), key=lambda i: (i.path or "", i.code)
    )
    if not items:
        return errors.ResourceInvalidFormat("The body does not match the schema")
    return errors.BadRequest(items[0].message, errors=items)


def body_validator(services: Services) -> consent_api.ValidateBody:
    validators: dict[str, V30RequestBodyValidator] = {}

    async def validate(request: Request, operation_id: str, raw: bytes) -> None:
        # Loaded once at start-up (gateway.app); nothing parsed per request.
        specs = services.specs
        operation = specs.by_operation_id(operation_id)
        if operation is None:
            raise errors.ObError("No schema for this operation", detail=operation_id)  # fail closed: 500
        validator = validators.get(operation.api)
        if validator is None:
            validator = validators[operation.api] = V30RequestBodyValidator(specs[operation.api].spec)
        probe = _BodyRequest(
            host_url=services.settings.issuer,
            path=operation.full_path,
            method=operation.method.lower(),
            body=raw,
        )
        try:
            validator.validate(probe)
        except InvalidRequestBody as exc:
            raise refusal(getattr(exc.__cause__, "schema_errors", ())) from None
        except Exception as exc:  # openapi-core raises several types for an unreadable body: all are 400
            raise errors.ResourceInvalidFormat(
                "The body does not match the schema", detail=repr(exc)
            ) from None

    return validate


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
