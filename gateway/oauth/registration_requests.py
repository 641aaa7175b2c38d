"""Reading a registration request (RFC 7591 section 3.1, OBIE DCR v3.3 "Registration Request").

``POST /register`` and ``PUT /register/{ClientId}`` take either

* the OBIE signed registration request (``Content-Type: application/jose``; DCR v3.3 "Registration
  Request"): a JWS whose claims are the client metadata plus ``software_statement``, signed by a key of the
  TPP named in that statement (``software_jwks`` or ``software_jwks_endpoint``): the proof of possession;
  ``iss`` = the statement's ``software_id``, ``aud`` = our issuer, ``iat``/``exp``/``jti`` required; or
* an RFC 7591 section 3.1 JSON object carrying ``software_statement`` (section 2.3).

Either way the software statement must verify against the trusted directory
(``gateway.oauth.software_statements``) and the metadata must fit it and FAPI 2.0
(``gateway.oauth.client_metadata``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from consent.errors import MalformedBody
from consent.wire import loads_json
from gateway.errors import InvalidClientMetadata
from gateway.errors import InvalidRequest
from gateway.errors import InvalidSoftwareStatement
from gateway.oauth.client_metadata import ClientMetadata
from gateway.oauth.client_metadata import validate_client_metadata
from gateway.oauth.registration_keys import ClientKeys
from gateway.oauth.registration_keys import client_keys
from gateway.oauth.registration_keys import keys_of
from gateway.oauth.registration_keys import ssa_keys_location
from gateway.oauth.software_statements import verify_software_statement
from gateway.security import jose
from gateway.services import Services

MAX_BODY_BYTES = 64 * 1024
JOSE_MEDIA_TYPES = frozenset({"application/jose", "application/jwt"})
COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$")
# RFC 7519 claims of the signed request itself: not client metadata.
REQUEST_JWT_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "exp", "nbf", "jti"})
# A registration request names no key of its own: the keys come from the software statement (OBIE DCR v3.3).
EMBEDDED_KEY_HEADERS = ("jwk", "jku", "x5u", "x5c")


@dataclass(frozen=True)
class _Submission:
    metadata: dict[str, Any]
    software_statement: str
    ssa: dict[str, Any]
    keys: ClientKeys


async def _read_submission(request: Request, *, services: Services) -> _Submission:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest("registration request is too large")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    # Decision: an unsupported media type is a 400 invalid_request, not a 415, because the OBIE DCR v3.3
    # OpenAPI declares only 201 and 400 for POST /register and RFC 7591 section 3.2.2 answers errors with 400.
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InvalidRequest("registration request is not UTF-8") from exc
    if media_type in JOSE_MEDIA_TYPES:
        return await _read_signed(text, services=services)
    if media_type != "application/json":
        raise InvalidRequest("Content-Type must be application/jose or application/json")
    try:
        parsed = loads_json(text)
    except MalformedBody:
        # The OBIE OpenAPI models the body as an application/json string: some TPPs send the bare JWS.
        if COMPACT_JWS.match(text):
            return await _read_signed(text, services=services)
        raise InvalidRequest("registration request is not valid JSON") from None
    if isinstance(parsed, str):
        return await _read_signed(parsed.strip(), services=services)
    if not isinstance(parsed, dict):
        raise InvalidRequest("registration request must be a JSON object or a signed JWT")
    return await _read_json(parsed, services=services)


async def _read_json(metadata: dict[str, Any], *, services: Services) -> _Submission:
    ssa_text = metadata.get("software_statement")
    if not isinstance(ssa_text, str) or not ssa_text:
        # RFC 7591 section 2.3 makes the statement optional; this gateway trusts only directory-issued software.
        raise InvalidSoftwareStatement("software_statement is required")
    ssa = await verify_software_statement(ssa_text, services=services)
    ssa_keys = ssa_keys_location(ssa, settings=services.settings)
    keys = client_keys(metadata, ssa_keys, settings=services.settings)
    return _Submission(metadata=metadata, software_statement=ssa_text, ssa=ssa, keys=keys)


async def _read_signed(token: str, *, services: Services) -> _Submission:
    settings = services.settings
    try:
        header = jose.unverified_header(token)
        unverified = jose.unverified_claims(token)
    except jose.JoseError as exc:
        raise InvalidClientMetadata("registration request is not a signed JWT") from exc
    allowed = services.policies.fapi.algorithms["registration_request"]  # policies/fapi.yaml
    if header.get("alg") not in allowed or header.get("alg") not in jose.FAPI_ALGORITHMS:
        raise InvalidClientMetadata(f"registration request alg must be one of {', '.join(allowed)}")
    for member in EMBEDDED_KEY_HEADERS:
        if member in header:
            raise InvalidClientMetadata(f"registration request header must not carry {member}")
    ssa_text = unverified.get("software_statement")
    if not isinstance(ssa_text, str) or not ssa_text:
        raise InvalidSoftwareStatement("software_statement is required")
    # The statement is the trust anchor: verify it before trusting any key it names.
    ssa = await verify_software_statement(ssa_text, services=services)
    ssa_keys = ssa_keys_location(ssa, settings=settings)
    signing_keys = await keys_of(ssa_keys, services=services)
    if not signing_keys:
        raise InvalidSoftwareStatement("software statement names no software_jwks or software_jwks_endpoint")
    try:
        claims = jose.verify_with_jwks(
            token,
            jwks=signing_keys,
            algorithms=allowed,
            audience=settings.issuer,
            require=["iss", "aud", "iat", "exp", "jti"],
            verify_exp=False,  # exp, iat and nbf are checked below with the profile's skew
        )
    except jose.JoseError as exc:
        raise InvalidClientMetadata(f"registration request rejected: {exc}") from exc
    skew_ahead = services.policies.fapi.clock_skew_ahead  # policies/fapi.yaml clock_skew.ahead_seconds
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= time.time():
        raise InvalidClientMetadata("registration request has expired")
    for name in ("iat", "nbf"):
        moment = claims.get(name)
        if moment is not None and (
            not isinstance(moment, int | float) or isinstance(moment, bool)
            or moment > time.time() + skew_ahead
        ):
            raise InvalidClientMetadata(f"registration request {name} is in the future")
    if claims.get("iss") != ssa["software_id"]:
        # OBIE DCR v3.3: for Directory-issued statements the request's iss is the software_id.
        raise InvalidClientMetadata("registration request iss must equal the software statement's software_id")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidClientMetadata("registration request jti must be a string")
    ttl = max(1, int(exp - time.time()) + skew_ahead)
    if not await services.single_use.claim(f"dcr-jti:{ssa['software_id']}:{jti}", ttl=ttl):
        raise InvalidClientMetadata("registration request jti was already used")
    metadata = {k: v for k, v in claims.items() if k not in REQUEST_JWT_CLAIMS}
    keys = client_keys(metadata, ssa_keys, settings=settings)
    return _Submission(metadata=metadata, software_statement=ssa_text, ssa=ssa, keys=keys)


def registrable_algorithms(services: Services) -> dict[str, tuple[str, ...]]:
    """The rulebook's algorithm lists, except that ID tokens can be asked for only in the alg the gateway signs
    them with: its current key's, which start-up checked is in ``algorithms.id_token``."""
    algorithms = dict(services.policies.fapi.algorithms)
    signing = jose.alg_for(services.keys.current)
    algorithms["id_token"] = tuple(alg for alg in algorithms["id_token"] if alg == signing)
    return algorithms


async def validated(request: Request, *, services: Services) -> ClientMetadata:
    submission = await _read_submission(request, services=services)
    return validate_client_metadata(
        submission.metadata,
        ssa=submission.ssa,
        software_statement=submission.software_statement,
        keys=submission.keys,
        settings=services.settings,
        algorithms=registrable_algorithms(services),
    )
