"""Dynamic Client Registration: RFC 7591 (register), RFC 7592 (read, update, delete) and OBIE DCR v3.3.

``POST /register`` takes either

* the OBIE signed registration request (``Content-Type: application/jose``; DCR v3.3 "Registration
  Request"): a JWS whose claims are the client metadata plus ``software_statement``, signed by a key of the
  TPP named in that statement (``software_jwks`` or ``software_jwks_endpoint``): the proof of possession;
  ``iss`` = the statement's ``software_id``, ``aud`` = our issuer, ``iat``/``exp``/``jti`` required; or
* an RFC 7591 section 3.1 JSON object carrying ``software_statement`` (section 2.3).

Either way the software statement must verify against the trusted directory
(``gateway.oauth.software_statements``) and the metadata must fit it and FAPI 2.0. Errors are RFC 7591
section 3.2.2 JSON, 400. ``GET``/``PUT``/``DELETE /register/{ClientId}`` are authorised, as OBIE DCR v3.3
says, by a client-credentials access token of that same client.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Final
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from sqlalchemy import update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent.errors import MalformedBody
from consent.wire import loads_json
from gateway.errors import InvalidClientMetadata
from gateway.errors import InvalidRedirectUri
from gateway.errors import InvalidRequest
from gateway.errors import InvalidSoftwareStatement
from gateway.errors import InvalidToken
from gateway.oauth.software_statements import verify_software_statement
from gateway.security import jose
from gateway.security.access import require_access_token
from gateway.services import Services
from gateway.services import services as get_services
from gateway.settings import Settings
from gateway.store.db import utcnow
from gateway.store.oauth_tables import Client
from gateway.store.oauth_tables import Token

MAX_BODY_BYTES = 64 * 1024
MAX_JWKS_BYTES = 64 * 1024
MAX_SCOPE_LENGTH = 256  # OBIE DCR v3.3 OBRegistrationProperties1.scope maxLength
MAX_SUBJECT_DN_LENGTH = 512  # OBIE DCR v3.4 tls_client_auth_subject_dn maxLength
JOSE_MEDIA_TYPES = frozenset({"application/jose", "application/jwt"})
COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$")

# FAPI 2.0 section 5.3.2.1 / OBIE DCR v3.3 ("only tls_client_auth and private_key_jwt are FAPI compliant"):
# no client secrets, no public clients.
AUTH_METHODS = frozenset({"private_key_jwt", "tls_client_auth"})
GRANT_TYPES: tuple[str, ...] = ("client_credentials", "authorization_code", "refresh_token")
# FAPI 2.0 section 5.3.2.2: response type ``code`` only (no hybrid ``code id_token``).
RESPONSE_TYPES = frozenset({"code"})
APPLICATION_TYPES = frozenset({"web", "mobile", "native"})
ROLE_SCOPES: Mapping[str, str] = {"AISP": "accounts", "PISP": "payments", "CBPII": "fundsconfirmations"}
# RFC 7519 claims of the signed request itself: not client metadata.
REQUEST_JWT_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "exp", "nbf", "jti"})
# Claims of the software statement that describe the statement, not the software (not echoed flattened).
SSA_ENVELOPE_CLAIMS = frozenset({"iss", "sub", "aud", "iat", "exp", "nbf", "jti"})
# A registration request names no key of its own: the keys come from the software statement (OBIE DCR v3.3).
EMBEDDED_KEY_HEADERS = ("jwk", "jku", "x5u", "x5c")


# --------------------------------------------------------------------------- validated metadata


@dataclass(frozen=True, kw_only=True)
class ClientMetadata:
    """Client metadata that passed every rule, ready to store and echo (RFC 7591 section 3.2.1)."""

    software_id: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str
    token_endpoint_auth_signing_alg: str | None
    tls_client_auth_subject_dn: str | None
    grant_types: list[str]
    response_types: list[str]
    scope: str
    application_type: str
    id_token_signed_response_alg: str
    request_object_signing_alg: str
    client_name: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    software_statement: str
    ssa_claims: dict[str, Any]

    def registered(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "scope": self.scope,
            "software_id": self.software_id,
            "application_type": self.application_type,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "request_object_signing_alg": self.request_object_signing_alg,
            "client_name": self.client_name,
        }
        if self.token_endpoint_auth_signing_alg:
            out["token_endpoint_auth_signing_alg"] = self.token_endpoint_auth_signing_alg
        if self.tls_client_auth_subject_dn:
            out["tls_client_auth_subject_dn"] = self.tls_client_auth_subject_dn
        if self.jwks is not None:
            out["jwks"] = self.jwks
        if self.jwks_uri is not None:
            out["jwks_uri"] = self.jwks_uri
        return out

    def response(self, *, client_id: str, issued_at: int, issuer: str) -> dict[str, Any]:
        # OBIE DCR v3.3: the SSA's claims flattened to the top level; registered metadata wins on a clash.
        flattened = {k: v for k, v in self.ssa_claims.items() if k not in SSA_ENVELOPE_CLAIMS}
        return {
            **flattened,
            **self.registered(),
            "client_id": client_id,
            "client_id_issued_at": issued_at,
            # RFC 7592 section 3: where the client reads, updates and deletes this registration.
            "registration_client_uri": f"{issuer}/register/{client_id}",
            "software_statement": self.software_statement,
        }


def allowed_scopes(roles: list[str]) -> list[str]:
    """``openid`` plus the scopes the software's roles grant (OBIE: registration scope ⊆ SSA roles)."""
    scopes = ["openid"]
    for role, scope in ROLE_SCOPES.items():
        if role in roles:
            scopes.append(scope)
    return scopes


def _optional_str(metadata: Mapping[str, Any], name: str) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidClientMetadata(f"{name} must be a non-empty string")
    return value


def _str_list(metadata: Mapping[str, Any], name: str, *, default: list[str]) -> list[str]:
    if name not in metadata:
        return list(default)
    value = metadata[name]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidClientMetadata(f"{name} must be a non-empty array of strings")
    # Keep the order the client gave, drop duplicates.
    return list(dict.fromkeys(value))


def _fapi_alg(
    metadata: Mapping[str, Any], name: str, *, allowed: Collection[str], default: str | None
) -> str | None:
    """``name`` from ``metadata``, one of ``allowed`` (the rulebook's list for that use, within FAPI's)."""
    value = _optional_str(metadata, name)
    if value is None:
        return default
    if value not in allowed or value not in jose.FAPI_ALGORITHMS:
        # FAPI 2.0 section 5.4: PS256, ES256, EdDSA at most (RS256 refused, as the OBIE DCR tool expects); the
        # rulebook (policies/fapi.yaml algorithms) narrows each use further.
        raise InvalidClientMetadata(f"{name} must be one of {', '.join(allowed)}")
    return value


def _redirect_uris(metadata: Mapping[str, Any], ssa: Mapping[str, Any], *, settings: Settings) -> list[str]:
    value = metadata.get("redirect_uris")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidRedirectUri("redirect_uris must be a non-empty array of URIs")
    allowed = set(ssa["software_redirect_uris"])
    for uri in value:
        if uri not in allowed:
            # OBIE DCR v3.3 data dictionary: redirect_uris must be among the SSA's software_redirect_uris.
            raise InvalidRedirectUri("every redirect_uri must be listed in the software statement's software_redirect_uris: add it to your app "
                                     "in the portal or leave it out")
        if "#" in uri:
            raise InvalidRedirectUri("a redirect_uri must not contain a fragment")  # RFC 6749 section 3.1.2
        if not settings.is_sandbox and not uri.startswith("https://"):
            raise InvalidRedirectUri("redirect_uris must use https")  # OBIE DCR v3.3 data dictionary
    return list(dict.fromkeys(value))


def _subject_dn(metadata: Mapping[str, Any]) -> str:
    dn = _optional_str(metadata, "tls_client_auth_subject_dn")
    if dn is None:
        raise InvalidClientMetadata("tls_client_auth requires tls_client_auth_subject_dn")  # RFC 8705 2.1.2
    if len(dn) > MAX_SUBJECT_DN_LENGTH:
        raise InvalidClientMetadata("tls_client_auth_subject_dn is too long")
    try:
        x509.Name.from_rfc4514_string(dn)
    except ValueError as exc:
        raise InvalidClientMetadata("tls_client_auth_subject_dn is not an RFC 4514 name") from exc
    return dn


def validate_client_metadata(
    metadata: Mapping[str, Any],
    *,
    ssa: Mapping[str, Any],
    software_statement: str,
    keys: ClientKeys,
    settings: Settings,
    algorithms: Mapping[str, Sequence[str]],
) -> ClientMetadata:
    """Apply RFC 7591 section 2, OBIE DCR v3.3 and FAPI 2.0 rules to ``metadata`` (unknown claims ignored).
    ``algorithms`` is the rulebook's (policies/fapi.yaml): the algs a client may register for its assertions,
    request objects and ID tokens."""
    software_id = str(ssa["software_id"])
    if "software_id" in metadata and metadata["software_id"] != software_id:
        raise InvalidClientMetadata("software_id must equal the software statement's software_id")

    redirect_uris = _redirect_uris(metadata, ssa, settings=settings)
    _check_display_uris(metadata, ssa)

    method = metadata.get("token_endpoint_auth_method")
    if method not in AUTH_METHODS:
        raise InvalidClientMetadata("token_endpoint_auth_method must be private_key_jwt or tls_client_auth")
    signing_alg: str | None = None
    subject_dn: str | None = None
    if method == "private_key_jwt":
        assertion_algs = algorithms["client_assertion"]
        signing_alg = _fapi_alg(metadata, "token_endpoint_auth_signing_alg", allowed=assertion_algs, default=None)
        if signing_alg is None:
            raise InvalidClientMetadata(f"private_key_jwt requires token_endpoint_auth_signing_alg: one of {', '.join(assertion_algs)}")
        if keys.jwks is None and keys.jwks_uri is None:
            raise InvalidClientMetadata("private_key_jwt requires the client's keys (jwks or jwks_uri)")
    else:
        subject_dn = _subject_dn(metadata)

    grant_types = _str_list(metadata, "grant_types", default=list(GRANT_TYPES))
    if not set(grant_types) <= set(GRANT_TYPES):
        raise InvalidClientMetadata(f"grant_types must be among {', '.join(GRANT_TYPES)}")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise InvalidClientMetadata("refresh_token needs the authorization_code grant")

    code_flow = "authorization_code" in grant_types
    response_types = _str_list(metadata, "response_types", default=["code"] if code_flow else [])
    if not set(response_types) <= RESPONSE_TYPES:
        raise InvalidClientMetadata("response_types must be [\"code\"] (FAPI 2.0)")
    # RFC 7591 section 2.1: response type ``code`` and grant ``authorization_code`` go together.
    if ("code" in response_types) != code_flow:
        raise InvalidClientMetadata("response_types code and grant_types authorization_code must go together")

    allowed = allowed_scopes(list(ssa["software_roles"]))
    scope_value = metadata.get("scope")
    if scope_value is None:
        scopes = allowed
    else:
        if not isinstance(scope_value, str) or not scope_value.strip() or len(scope_value) > MAX_SCOPE_LENGTH:
            raise InvalidClientMetadata("scope must be a space-separated string of at most 256 characters")
        scopes = list(dict.fromkeys(scope_value.split()))
        extra = [s for s in scopes if s not in allowed]
        if extra:
            raise InvalidClientMetadata(f"scope beyond the software's roles: {' '.join(extra)}")

    application_type = _optional_str(metadata, "application_type") or "web"
    if application_type not in APPLICATION_TYPES:
        raise InvalidClientMetadata("application_type must be web, mobile or native")

    client_name = metadata.get("client_name", ssa.get("software_client_name", ""))
    if not isinstance(client_name, str) or len(client_name) > 255:
        raise InvalidClientMetadata("client_name must be a string of at most 255 characters")

    return ClientMetadata(
        software_id=software_id,
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=str(method),
        token_endpoint_auth_signing_alg=signing_alg,
        tls_client_auth_subject_dn=subject_dn,
        grant_types=grant_types,
        response_types=response_types,
        scope=" ".join(scopes),
        application_type=application_type,
        id_token_signed_response_alg=str(_fapi_alg(metadata, "id_token_signed_response_alg",
                                                   allowed=algorithms["id_token"], default=algorithms["id_token"][0])),
        request_object_signing_alg=str(_fapi_alg(metadata, "request_object_signing_alg",
                                                 allowed=algorithms["request_object"],
                                                 default=algorithms["request_object"][0])),
        client_name=client_name,
        jwks=keys.jwks,
        jwks_uri=keys.jwks_uri,
        software_statement=software_statement,
        ssa_claims=dict(ssa),
    )


# --------------------------------------------------------------------------- the client's keys


@dataclass(frozen=True)
class ClientKeys:
    """Where a client's public signing keys live (inline JWKS and/or a JWKS URL)."""

    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None


def _public_signing_keys(jwks: Any) -> list[dict[str, Any]]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWKS")
    return [
        jose.public_jwk(k)
        for k in jwks["keys"]
        if isinstance(k, dict) and k.get("use", "sig") == "sig" and not jose.is_private(k)
    ]


DISPLAY_URIS: Final = ("logo_uri", "tos_uri", "policy_uri", "client_uri")


def _check_display_uris(metadata: Mapping[str, Any], ssa: Mapping[str, Any]) -> None:
    """RFC 7591 section 2 display links (and the SSA's ``software_*`` ones, OBIE DCR v3.3): shown to customers,
    so https only, in every mode; ``javascript:``, ``data:`` and ``http:`` are refused naming the field."""
    for source, prefix in ((metadata, ""), (ssa, "software_")):
        for field in DISPLAY_URIS:
            name = prefix + field
            if name not in source:
                continue
            value = source[name]
            parts = urlsplit(value) if isinstance(value, str) else None
            if (parts is None or parts.scheme != "https" or not parts.hostname
                    or any(ch.isspace() or ord(ch) < 32 for ch in value)):
                raise InvalidClientMetadata(f"{name} must be an https URL")


def _check_url(uri: str, *, settings: Settings, name: str) -> None:
    https = uri.startswith("https://")
    # Plain http only in sandbox mode (local TPP tooling); production fetches keys over TLS only.
    if not https and not (settings.is_sandbox and uri.startswith("http://")):
        raise InvalidClientMetadata(f"{name} must be an https URL")


async def _fetch_jwks(uri: str, *, services: Services) -> list[dict[str, Any]]:
    try:
        response = await services.http.get(uri, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise InvalidSoftwareStatement("software_jwks_endpoint could not be fetched") from exc
    if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
        raise InvalidSoftwareStatement("software_jwks_endpoint did not return a JWKS")
    try:
        return _public_signing_keys(response.json())
    except ValueError as exc:
        raise InvalidSoftwareStatement("software_jwks_endpoint did not return a JWKS") from exc


def _ssa_keys_location(ssa: Mapping[str, Any], *, settings: Settings) -> ClientKeys:
    """The TPP's keys as the software statement names them: inline ``software_jwks``, a
    ``software_jwks_endpoint``, both, or neither."""
    jwks: dict[str, Any] | None = None
    if "software_jwks" in ssa:
        try:
            jwks = {"keys": _public_signing_keys(ssa["software_jwks"])}
        except ValueError as exc:
            raise InvalidSoftwareStatement("software_jwks is not a JWKS") from exc
    endpoint = ssa.get("software_jwks_endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise InvalidSoftwareStatement("software_jwks_endpoint is not a URL")
        try:
            _check_url(endpoint, settings=settings, name="software_jwks_endpoint")
        except InvalidClientMetadata as exc:
            raise InvalidSoftwareStatement(exc.message) from exc
    return ClientKeys(jwks=jwks, jwks_uri=endpoint)


async def _keys_of(location: ClientKeys, *, services: Services) -> list[dict[str, Any]]:
    # Inline keys first: no network call, and they are exactly what the directory signed.
    if location.jwks is not None:
        return list(location.jwks["keys"])
    if location.jwks_uri is not None:
        return await _fetch_jwks(location.jwks_uri, services=services)
    return []


def _client_keys(metadata: Mapping[str, Any], ssa_keys: ClientKeys, *, settings: Settings) -> ClientKeys:
    """The keys to register (one location, or none). When the software statement names the TPP's keys,
    those are the client's keys: a client may repeat them but not bring others, or anyone holding a copy of
    the statement could register keys of their own for someone else's software."""
    has_jwks, has_uri = "jwks" in metadata, "jwks_uri" in metadata
    if has_jwks and has_uri:
        raise InvalidClientMetadata("jwks and jwks_uri must not both be present")  # RFC 7591 section 2
    body = ClientKeys()
    if has_jwks:
        try:
            body = ClientKeys(jwks={"keys": _public_signing_keys(metadata["jwks"])})
        except ValueError as exc:
            raise InvalidClientMetadata("jwks is not a JWK Set") from exc
        if not body.jwks or not body.jwks["keys"]:
            raise InvalidClientMetadata("jwks holds no public signing key")
    elif has_uri:
        uri = metadata["jwks_uri"]
        if not isinstance(uri, str):
            raise InvalidClientMetadata("jwks_uri must be a URL")
        _check_url(uri, settings=settings, name="jwks_uri")
        body = ClientKeys(jwks_uri=uri)
    if ssa_keys.jwks is None and ssa_keys.jwks_uri is None:
        return body
    if has_uri:
        if body.jwks_uri != ssa_keys.jwks_uri:
            raise InvalidClientMetadata("jwks_uri must be the software statement's software_jwks_endpoint")
        return body
    if has_jwks:
        if ssa_keys.jwks is None or _thumbprints(body.jwks) != _thumbprints(ssa_keys.jwks):
            raise InvalidClientMetadata("jwks must be the software statement's software_jwks")
        return ClientKeys(jwks=ssa_keys.jwks)
    if ssa_keys.jwks is not None:
        return ClientKeys(jwks=ssa_keys.jwks)
    return ClientKeys(jwks_uri=ssa_keys.jwks_uri)


def _thumbprints(jwks: Mapping[str, Any] | None) -> frozenset[str]:
    try:
        return frozenset(jose.thumbprint(k) for k in (jwks or {}).get("keys", []))
    except jose.JoseError as exc:
        raise InvalidClientMetadata("jwks holds an invalid key") from exc


# --------------------------------------------------------------------------- reading a request


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
    ssa_keys = _ssa_keys_location(ssa, settings=services.settings)
    keys = _client_keys(metadata, ssa_keys, settings=services.settings)
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
    ssa_keys = _ssa_keys_location(ssa, settings=settings)
    signing_keys = await _keys_of(ssa_keys, services=services)
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
    keys = _client_keys(metadata, ssa_keys, settings=settings)
    return _Submission(metadata=metadata, software_statement=ssa_text, ssa=ssa, keys=keys)


def registrable_algorithms(services: Services) -> dict[str, tuple[str, ...]]:
    """The rulebook's algorithm lists, except that ID tokens can be asked for only in the alg the gateway signs
    them with: its current key's, which start-up checked is in ``algorithms.id_token``."""
    algorithms = dict(services.policies.fapi.algorithms)
    signing = jose.alg_for(services.keys.current)
    algorithms["id_token"] = tuple(alg for alg in algorithms["id_token"] if alg == signing)
    return algorithms


async def _validated(request: Request, *, services: Services) -> ClientMetadata:
    submission = await _read_submission(request, services=services)
    return validate_client_metadata(
        submission.metadata,
        ssa=submission.ssa,
        software_statement=submission.software_statement,
        keys=submission.keys,
        settings=services.settings,
        algorithms=registrable_algorithms(services),
    )


# --------------------------------------------------------------------------- endpoints

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _apply(client: Client, meta: ClientMetadata, *, response: dict[str, Any]) -> None:
    client.software_id = meta.software_id
    client.org_id = str(meta.ssa_claims.get("org_id", ""))
    client.client_name = meta.client_name
    client.token_endpoint_auth_method = meta.token_endpoint_auth_method
    client.tls_client_auth_subject_dn = meta.tls_client_auth_subject_dn
    client.redirect_uris = list(meta.redirect_uris)
    client.grant_types = list(meta.grant_types)
    client.scope = meta.scope
    client.software_roles = list(meta.ssa_claims.get("software_roles", []))
    client.jwks = dict(meta.jwks or {})
    client.jwks_uri = meta.jwks_uri
    client.software_statement = meta.software_statement
    client.registration = response


async def register(request: Request) -> Response:
    services = get_services(request)
    meta = await _validated(request, services=services)
    # OBIE allows one software to hold several registrations (e.g. one per environment or product), so a
    # software_id registered before simply gets another, new client_id.
    client_id = str(uuid.uuid4())
    issued_at = int(time.time())
    response = meta.response(client_id=client_id, issued_at=issued_at, issuer=services.settings.issuer)
    client = Client(client_id=client_id, token_endpoint_auth_method=meta.token_endpoint_auth_method)
    _apply(client, meta, response=response)
    async with services.db.session() as session:
        session.add(client)
        await session.commit()
    return JSONResponse(response, status_code=201, headers=_NO_STORE)


async def _authorised_client(request: Request, *, services: Services) -> Client:
    """RFC 7592 section 2 / OBIE DCR v3.3: the caller's client-credentials token must belong to ClientId.
    An unknown ClientId and another client's ClientId get the same 401, so neither is revealed, and the
    token presented is revoked (OBIE DCR v3.3: "unknown ClientId → 401 and revoke the token")."""
    context = await require_access_token(request, services=services, grant_types=["client_credentials"])
    client_id = request.path_params["client_id"]
    client = context.client
    if client.client_id != client_id or client.status != "active":
        async with services.db.session() as session:
            await session.execute(
                update(Token)
                .where(col(Token.token_hash) == context.token.token_hash)
                .values(revoked_at=utcnow())
            )
            await session.commit()
        # RFC 6750 section 3 / RFC 9449 section 7.1 challenge, in the scheme the token was presented with.
        challenge = 'error="invalid_token", error_description="token not valid for this registration"'
        if context.token.jkt:
            challenge = f'DPoP {challenge}, algs="{" ".join(jose.FAPI_ALGORITHMS)}"'
        else:
            challenge = f"Bearer {challenge}"
        error = InvalidToken("the access token does not belong to this client registration")
        error.headers["WWW-Authenticate"] = challenge
        raise error
    return client


async def read_registration(request: Request) -> Response:
    services = get_services(request)
    client = await _authorised_client(request, services=services)
    return JSONResponse(client.registration, headers=_NO_STORE)


async def update_registration(request: Request) -> Response:
    services = get_services(request)
    client = await _authorised_client(request, services=services)
    meta = await _validated(request, services=services)
    if meta.software_id != client.software_id:
        raise InvalidClientMetadata("a registration cannot move to another software_id")
    # PUT carries the whole registration (OBIE DCR v3.3); it keeps the client_id and, as OBIE requires,
    # does not invalidate tokens already issued.
    issued_at = int(client.registration.get("client_id_issued_at", int(client.created_at.timestamp())))
    response = meta.response(client_id=client.client_id, issued_at=issued_at, issuer=services.settings.issuer)
    async with services.db.session() as session:
        row = await session.get(Client, client.client_id)
        if row is None or row.status != "active":
            raise InvalidToken("unknown client")
        _apply(row, meta, response=response)
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
    # The keys may have moved (jwks <-> jwks_uri): drop any cached copy of the old ones.
    services.client_keys.forget(client.client_id)
    return JSONResponse(response, headers=_NO_STORE)


async def delete_registration(request: Request) -> Response:
    services = get_services(request)
    client = await _authorised_client(request, services=services)
    now = utcnow()
    async with services.db.session() as session:
        row = await session.get(Client, client.client_id)
        if row is not None:
            # The row stays (consents and the audit trail name the client); its status shuts it out.
            row.status = "deleted"
            row.updated_at = now
            session.add(row)
        # OBIE DCR v3.3: deleting a registration invalidates every token issued to it.
        await session.execute(
            update(Token)
            .where(col(Token.client_id) == client.client_id, col(Token.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        await session.commit()
    services.client_keys.forget(client.client_id)
    return Response(status_code=204, headers=_NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route("/register", register, methods=["POST"], name="register"),
        Route("/register/{client_id}", read_registration, methods=["GET"], name="registration"),
        Route("/register/{client_id}", update_registration, methods=["PUT"]),
        Route("/register/{client_id}", delete_registration, methods=["DELETE"]),
    ]
