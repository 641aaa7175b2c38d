"""Client authentication at the token, PAR, introspection and revocation endpoints.

FAPI 2.0 Security Profile section 5.3.2.1: only ``private_key_jwt`` (RFC 7523 section 2.2, OIDC Core
section 9) and ``tls_client_auth`` (RFC 8705 section 2.1). FAPI 2.0 final: the assertion's ``aud`` is the
issuer identifier and nothing else. Assertions are short-lived and single use (``jti``): with an ``iat``
they are accepted at most 60 s after it (and 10 s before), whatever their ``exp`` (common client libraries
default to one-hour ``exp`` values, which this keeps interoperable without a long replay window); without
an ``iat``, ``exp`` may be at most ``MAX_ASSERTION_LIFETIME`` ahead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.errors import InvalidClient
from gateway.observability.context import annotate
from gateway.security import jose
from gateway.security.certificates import certificate_thumbprint
from gateway.security.certificates import presented_certificate
from gateway.security.certificates import same_dn
from gateway.security.client_keys import JwksUnavailable
from gateway.security.client_keys import get_client
from gateway.services import Services
from gateway.store.oauth_tables import Client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 300


@dataclass(frozen=True)
class AuthenticatedClient:
    client: Client
    method: str
    certificate_thumbprint: str | None


async def authenticate_client(
    request: Request, form: Mapping[str, str], *, services: Services
) -> AuthenticatedClient:
    """The client behind this request, or ``InvalidClient`` (401)."""
    settings = services.settings
    cert = presented_certificate(request, settings=settings)
    thumbprint = certificate_thumbprint(cert) if cert is not None else None
    if "client_secret" in form or request.headers.get("authorization", "").lower().startswith("basic "):
        raise InvalidClient("client secrets are not accepted: use private_key_jwt or tls_client_auth")

    assertion = form.get("client_assertion")
    if assertion is not None or "client_assertion_type" in form:
        client = await _private_key_jwt(form, services=services)
        annotate(client_id=client.client_id)
        return AuthenticatedClient(client=client, method="private_key_jwt", certificate_thumbprint=thumbprint)

    client_id = form.get("client_id", "")
    async with services.db.session() as session:
        client = await get_client(session, client_id)
    if client is None or client.status != "active":
        raise InvalidClient("unknown client", detail=f"client_id={client_id!r}")
    if client.token_endpoint_auth_method != "tls_client_auth":
        raise InvalidClient("client authentication missing: this client uses private_key_jwt, send client_assertion_type and a "
                            "client_assertion JWT (RFC 7523 section 2.2)")
    if cert is None:
        raise InvalidClient("no client certificate presented")
    if not client.tls_client_auth_subject_dn or not same_dn(client.tls_client_auth_subject_dn, cert):
        raise InvalidClient("client certificate does not match the registered subject DN")
    annotate(client_id=client.client_id)
    return AuthenticatedClient(client=client, method="tls_client_auth", certificate_thumbprint=thumbprint)


async def _private_key_jwt(form: Mapping[str, str], *, services: Services) -> Client:
    settings = services.settings
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise InvalidClient("client_assertion_type must be " + ASSERTION_TYPE)
    assertion = form.get("client_assertion", "")
    try:
        header = jose.unverified_header(assertion)
        unverified = jose.unverified_claims(assertion)
    except jose.JoseError as exc:
        raise InvalidClient("client_assertion is not a JWT") from exc
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or unverified.get("sub") != client_id:
        raise InvalidClient("client_assertion iss and sub must both be the client_id the registration answered")
    if "client_id" in form and form["client_id"] != client_id:
        raise InvalidClient("client_id does not match the client_assertion")
    async with services.db.session() as session:
        client = await get_client(session, client_id)
    if client is None or client.status != "active":
        raise InvalidClient("unknown client", detail=f"client_id={client_id!r}")
    if client.token_endpoint_auth_method != "private_key_jwt":
        raise InvalidClient("this client authenticates with tls_client_auth")
    allowed = services.policies.fapi.algorithms["client_assertion"]
    if header.get("alg") not in allowed:
        raise InvalidClient(f"client_assertion alg {header.get('alg')!r} is not allowed: sign it with one of "
                            f"{', '.join(allowed)}")
    registered_alg = client.registration.get("token_endpoint_auth_signing_alg")
    if registered_alg and header.get("alg") != registered_alg:
        raise InvalidClient(f"client_assertion must be signed with {registered_alg}")

    claims = await _verify_with_client_keys(assertion, client=client, services=services, header=header)
    fapi = services.policies.fapi
    _check_assertion_claims(claims, issuer=settings.issuer, skew_ahead=fapi.clock_skew_ahead,
                            max_age=fapi.max_proof_age)
    # The jti must be remembered for as long as the assertion could still be accepted.
    last_valid = int(claims["exp"])
    if isinstance(claims.get("iat"), int):
        last_valid = min(last_valid, int(claims["iat"]) + fapi.max_proof_age)
    ttl = last_valid - int(time.time()) + fapi.clock_skew_ahead
    if not await services.single_use.claim(f"assertion:{client_id}:{claims['jti']}", ttl=max(ttl, 1)):
        raise InvalidClient("client_assertion jti already used")
    return client


async def _verify_with_client_keys(
    assertion: str, *, client: Client, services: Services, header: Mapping[str, Any]
) -> dict[str, Any]:
    for refresh in (False, True):
        try:
            keys = await services.client_keys.keys_for(client, refresh=refresh)
        except JwksUnavailable as exc:
            raise InvalidClient("the client's keys cannot be fetched", detail=str(exc)) from exc
        try:
            key = jose.select_key(keys, kid=header.get("kid"), alg=str(header.get("alg")))
        except jose.JoseError:
            if not refresh and client.jwks_uri:
                continue
            raise InvalidClient("no registered key matches the client_assertion") from None
        try:
            # aud and exp are checked below with FAPI's stricter rules.
            return jose.verify(assertion, key=key, verify_exp=False)
        except jose.JoseError as exc:
            raise InvalidClient(f"client_assertion rejected: {exc}") from exc
    raise InvalidClient(
        "no registered key matches the client_assertion: sign it with a key of your registered jwks and name "
        "its kid in the JWT header"
    )


def _check_assertion_claims(claims: Mapping[str, Any], *, issuer: str, skew_ahead: int, max_age: int) -> None:
    now = int(time.time())
    aud = claims.get("aud")
    # FAPI 2.0 Security Profile (final) 5.3.2.1: the authorization server shall only accept its issuer
    # identifier as the sole value of aud, sent as a single string: an array, even ["<issuer>"], is refused.
    if isinstance(aud, list):
        raise InvalidClient(
            f"client_assertion aud must be the single string {issuer}, not an array (FAPI 2.0 Security Profile "
            "5.3.2.1: the issuer identifier is the sole aud value, as a string)"
        )
    if aud != issuer:
        raise InvalidClient(f"client_assertion aud must be the issuer identifier {issuer} (FAPI 2.0), not the token endpoint URL")
    exp = claims.get("exp")
    if not isinstance(exp, int):
        raise InvalidClient("client_assertion exp is required")
    if exp <= now:
        raise InvalidClient("client_assertion expired")
    iat = claims.get("iat")
    if iat is None and exp > now + MAX_ASSERTION_LIFETIME + skew_ahead:
        raise InvalidClient(f"client_assertion without iat may live at most {MAX_ASSERTION_LIFETIME} s")
    if iat is not None:
        if not isinstance(iat, int) or iat > now + skew_ahead:
            raise InvalidClient("client_assertion iat is in the future")
        if iat < now - max_age:
            raise InvalidClient(f"client_assertion iat is more than {max_age} s old")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidClient("client_assertion jti is required")
    if claims.get("nbf") is not None and (not isinstance(claims["nbf"], int) or claims["nbf"] > now + skew_ahead):
        raise InvalidClient("client_assertion not yet valid")
