"""Pushed authorization requests: ``POST /par`` (RFC 9126), the only way into ``/authorize`` under the FAPI 2.0
Security Profile section 5.3.2.2.

The client authenticates (RFC 9126 section 2.1), pushes either plain form parameters or one signed request
object (RFC 9101; RFC 9126 section 3), and receives a one-time ``request_uri`` valid ``settings.par_lifetime``
seconds (RFC 9126 section 2.2). Validated here, once, so that ``/authorize`` may trust what it reads back:
``response_type=code`` only, ``redirect_uri`` present and exactly registered, PKCE with S256 (RFC 7636; FAPI 2.0
SP section 5.3.2.2), ``scope`` within the client's registration, ``claims`` (OIDC Core 5.5) and
``authorization_details`` (RFC 9396) well formed. A DPoP proof or ``dpop_jkt`` binds the future code to a key
(RFC 9449 section 10).

OBIE R/W API "Consent Authorisation" (docs/obie-notes.md sections 3 and 7): a request for an OBIE scope (``accounts``,
``payments``, ``fundsconfirmations``) must name the consent it authorises, by
``claims.id_token.openbanking_intent_id`` or an RFC 9396 ``openbanking_intent`` authorization detail. The
consent must exist, belong to the client, still be ``AwaitingAuthorisation`` and be of the scope's kind;
otherwise the request is refused here, before any customer sees it.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import service as consent_service
from consent.errors import ConsentError
from consent.lifecycle import PISP_KINDS
from consent.lifecycle import ConsentKind
from consent.lifecycle import ConsentStatus
from consent.lifecycle import reauthenticable
from gateway.errors import InvalidAuthorizationDetails
from gateway.errors import InvalidDpopProof
from gateway.errors import InvalidRequest
from gateway.errors import InvalidRequestObject
from gateway.errors import InvalidScope
from gateway.errors import UnauthorizedClient
from gateway.errors import UnsupportedResponseType
from gateway.oauth import request_objects
from gateway.oauth.client_auth import authenticate_client
from gateway.oauth.id_tokens import requested_intent_id
from gateway.oauth.token import read_form
from gateway.security.client_keys import JwksUnavailable
from gateway.security.dpop import check_dpop_proof
from gateway.services import Services
from gateway.services import services as get_services
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client
from gateway.store.oauth_tables import PushedRequest
from gateway.store.oauth_tables import new_secret
from gateway.store.oauth_tables import secret_hash

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# RFC 7636 section 4.2: BASE64URL(SHA256(verifier)) is 43 characters.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Client authentication members; they are about the HTTP request, not the authorization request.
_AUTH_PARAMS = frozenset({"client_assertion", "client_assertion_type"})
# docs/obie-notes.md section 7: the scope each consent kind is authorised under.
OBIE_SCOPES = frozenset({"accounts", "payments", "fundsconfirmations"})
INTENT_DETAIL_TYPE = "openbanking_intent"


def scope_for_kind(kind: str) -> str | None:
    """The OBIE scope a consent of ``kind`` is authorised under; ``None`` for an unknown kind."""
    if kind == ConsentKind.ACCOUNT_ACCESS:
        return "accounts"
    if kind in PISP_KINDS:  # payment orders and VRP (vrp-openapi.yaml: scope payments)
        return "payments"
    if kind == ConsentKind.FUNDS_CONFIRMATION:
        return "fundsconfirmations"
    return None


_STRING_PARAMS = ("response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                  "code_challenge_method", "dpop_jkt", "prompt", "max_age", "acr_values", "response_mode")


def handle_of(request_uri: str) -> str | None:
    """The random part of one of our ``request_uri`` values, or ``None`` for anything else."""
    if not isinstance(request_uri, str) or not request_uri.startswith(REQUEST_URI_PREFIX):
        return None
    handle = request_uri[len(REQUEST_URI_PREFIX):]
    return handle if 20 <= len(handle) <= 128 else None


async def push(request: Request) -> JSONResponse:
    svc = get_services(request)
    form = await read_form(request)
    authenticated = await authenticate_client(request, form, services=svc)
    client = authenticated.client
    if "request_uri" in form:
        # RFC 9126 section 2.1: request_uri is not allowed at the PAR endpoint.
        raise InvalidRequest("request_uri is not allowed in a pushed authorization request")
    if form.get("client_id", client.client_id) != client.client_id:
        raise InvalidRequest("client_id does not match the authenticated client")

    if "request" in form:
        params = await _request_object_params(form["request"], client=client, services=svc)
    else:
        params = {k: v for k, v in form.items() if k not in _AUTH_PARAMS}
    stored = validate_authorization_params(params, client=client)
    await check_intent(stored, client_id=client.client_id, services=svc)

    proof = await check_dpop_proof(request, services=svc)
    requested_jkt = stored.pop("dpop_jkt", None)
    if requested_jkt is not None and not _JKT.match(requested_jkt):
        raise InvalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
    if proof is not None and requested_jkt is not None and proof.jkt != requested_jkt:
        # RFC 9449 section 10.1: when both are present they must name the same key.
        raise InvalidDpopProof("dpop_jkt does not match the DPoP proof's key")
    jkt = proof.jkt if proof is not None else requested_jkt

    handle = new_secret()
    now = utcnow()
    async with svc.db.session() as session:
        session.add(
            PushedRequest(
                handle_hash=secret_hash(handle),
                client_id=client.client_id,
                params=stored,
                dpop_jkt=jkt,
                expires_at=now + timedelta(seconds=svc.settings.par_lifetime),
                created_at=now,
            )
        )
        await session.commit()
    # RFC 9126 section 2.2: 201 Created with request_uri and expires_in.
    return JSONResponse(
        {"request_uri": REQUEST_URI_PREFIX + handle, "expires_in": svc.settings.par_lifetime},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


async def _request_object_params(token: str, *, client: Client, services: Services) -> dict[str, Any]:
    try:
        jwks = await services.client_keys.keys_for(client)
    except JwksUnavailable as exc:
        raise InvalidRequestObject("the client's keys cannot be fetched", detail=str(exc)) from exc
    claims = request_objects.verify_request_object(
        token,
        client_id=client.client_id,
        issuer=services.settings.issuer,
        jwks=jwks,
        algorithms=services.policies.fapi.algorithms["request_object"],
        skew_ahead=services.policies.fapi.clock_skew_ahead,
    )
    # RFC 9126 section 3 / FAPI: only the request object's parameters are used; JWT-only claims dropped.
    return {k: v for k, v in claims.items() if k not in {"iss", "aud", "exp", "nbf", "iat", "jti", "client_id"}}


def validate_authorization_params(params: dict[str, Any], *, client: Client) -> dict[str, Any]:
    """Check an authorization request against the FAPI 2.0 rules and return what ``/authorize`` needs."""
    for name in _STRING_PARAMS:
        if name in params and not isinstance(params[name], str):
            if name == "max_age" and isinstance(params[name], int) and not isinstance(params[name], bool):
                continue
            raise InvalidRequest(f"{name} must be a string")

    response_type = params.get("response_type")
    if not response_type:
        raise InvalidRequest("response_type is required")
    if response_type != "code":
        # FAPI 2.0 SP section 5.3.2.2: only the code response type.
        raise UnsupportedResponseType("only response_type=code is supported")
    if params.get("response_mode") not in (None, "query"):
        raise InvalidRequest("only response_mode=query is supported")
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient("this client is not registered for the authorization_code grant")

    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        # FAPI 2.0 SP section 5.3.2.2 / RFC 9126 section 2.4: required, compared exactly.
        raise InvalidRequest("redirect_uri is required")
    if redirect_uri not in client.redirect_uris:
        raise InvalidRequest("redirect_uri is not registered for this client: use one of the redirect_uris you registered")

    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if not challenge:
        raise InvalidRequest("code_challenge is required: PKCE with code_challenge_method=S256 (RFC 7636)")
    if method != "S256":
        # FAPI 2.0 SP section 5.3.2.2: S256 only; plain, or none given (which means plain), is refused.
        raise InvalidRequest("code_challenge_method must be S256")
    if not _S256_CHALLENGE.match(challenge):
        raise InvalidRequest("code_challenge is not a base64url SHA-256 value")

    scope = params.get("scope") or ""
    requested = scope.split()
    if not requested:
        raise InvalidScope("scope is required")
    if not set(requested) <= set(client.scope.split()):
        raise InvalidScope("scope exceeds the client's registered scope")

    claims = _json_member(params, "claims", dict)
    details = _json_member(params, "authorization_details", list)
    if details is not None:
        for detail in details:
            if not isinstance(detail, dict) or not isinstance(detail.get("type"), str):
                raise InvalidAuthorizationDetails("every authorization_details entry needs a type (RFC 9396 section 2)")
            if detail["type"] != INTENT_DETAIL_TYPE:
                # RFC 9396 section 5: an unknown authorization details type.
                raise InvalidAuthorizationDetails(f"authorization_details type {detail['type']!r} is not supported")
    try:
        intent_id = requested_intent_id(claims=claims, authorization_details=details)
    except ValueError as exc:
        if details:
            raise InvalidAuthorizationDetails(str(exc)) from exc
        raise InvalidRequest(str(exc)) from exc

    for name, limit in (("state", 1024), ("nonce", 512)):
        if len(params.get(name) or "") > limit:
            raise InvalidRequest(f"{name} is longer than {limit} characters")

    stored: dict[str, Any] = {
        "response_type": response_type,
        "redirect_uri": redirect_uri,
        "scope": " ".join(dict.fromkeys(requested)),
        "code_challenge": challenge,
        "code_challenge_method": method,
        "state": params.get("state") or None,
        "nonce": params.get("nonce") or None,
        "claims": claims or {},
        "authorization_details": details or [],
        "intent_id": intent_id,
    }
    if params.get("dpop_jkt"):
        stored["dpop_jkt"] = params["dpop_jkt"]
    return stored


async def check_intent(stored: dict[str, Any], *, client_id: str, services: Services) -> None:
    """Refuse a request whose consent does not fit it (module docstring): refusals are ``invalid_request``, or
    ``invalid_authorization_details`` (RFC 9396 section 5) when the consent was named that way."""
    intent_id = stored.get("intent_id")
    via_details = any(d.get("type") == INTENT_DETAIL_TYPE for d in stored.get("authorization_details") or [])
    refusal = InvalidAuthorizationDetails if via_details else InvalidRequest
    obie_scopes = OBIE_SCOPES & set(stored["scope"].split())
    if intent_id is None:
        if obie_scopes:
            # OBIE R/W API "Consent Authorisation": an OBIE scope is only granted for a lodged intent.
            raise InvalidRequest(
                f"scope {' '.join(sorted(obie_scopes))} needs the consent: send claims.id_token.openbanking_intent_id"
            )
        return
    async with services.db.session() as session:
        try:
            consent = await consent_service.get_consent(session=session, consent_id=intent_id, client_id=client_id)
        except ConsentError as exc:
            # Unknown and foreign consents are refused alike: the answer must not reveal other clients' ids.
            raise refusal("the consent named by the request is unknown", detail=exc.detail) from None
    reauthentication = consent.status == ConsentStatus.AUTHORISED and reauthenticable(consent.kind)
    if consent.status != ConsentStatus.AWAITING_AUTHORISATION and not reauthentication:
        # docs/obie-notes.md section 3.1: decided consents allow no new authorization, except the re-authentication
        # of an Authorised account-access, funds-confirmation or VRP consent by its customer.
        raise refusal(f"the consent is {consent.status}, not AwaitingAuthorisation: create a new consent and push a request naming it", detail=intent_id)
    if consent.expires_at is not None and consent.expires_at <= utcnow():
        raise refusal("the consent has expired", detail=intent_id)
    expected = scope_for_kind(consent.kind)
    if expected is None or obie_scopes != {expected}:
        raise refusal(f"this {consent.kind} consent needs the scope {expected} (and openid), nothing else", detail=intent_id)


def _json_member(params: dict[str, Any], name: str, kind: type) -> Any:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidRequest(f"{name} is not valid JSON") from exc
    if not isinstance(value, kind):
        raise InvalidRequest(f"{name} must be a JSON {'object' if kind is dict else 'array'}")
    return value


def routes() -> list[BaseRoute]:
    return [Route("/par", push, methods=["POST"], name="par")]
