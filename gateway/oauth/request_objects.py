"""Signed authorization request objects (RFC 9101, JWT-Secured Authorization Request), as pushed to PAR.

Rules applied (RFC 9101 sections 4, 5 and 6.1; FAPI 1 Advanced section 5.2.2, kept by the
OBIE profile; FAPI 2.0 Security Profile section 5.4 algorithms):

* signed by a key the client registered, with an algorithm of the rulebook's ``algorithms.request_object``
  (``policies/fapi.yaml``, within PS256, ES256 and EdDSA); never ``none`` and never encrypted-only;
* ``iss`` is the client_id and ``aud`` is the issuer identifier, or an array containing it (FAPI 2.0 Message
  Signing, final, section 5.3.2; unlike client assertions, FAPI asks no single string here);
* ``exp`` and ``nbf`` present, ``exp`` at most 60 minutes after ``nbf``, ``nbf`` at most 60 minutes old;
* a request object must not itself carry ``request`` or ``request_uri`` (RFC 9101 section 4).

Failures raise ``InvalidRequestObject`` (RFC 9126 section 2.3 / RFC 9101 section 6.3).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from gateway.errors import InvalidRequestObject
from gateway.security import jose

# FAPI 1 Advanced section 5.2.2: exp - nbf <= 60 minutes, nbf no older than 60 minutes.
MAX_LIFETIME = 3600
MAX_NBF_AGE = 3600
ACCEPTED_TYPES = frozenset({"oauth-authz-req+jwt", "JWT", "jwt"})


def verify_request_object(
    token: str,
    *,
    client_id: str,
    issuer: str,
    jwks: Iterable[Mapping[str, Any]],
    algorithms: Collection[str],
    skew_ahead: int,
    now: int | None = None,
) -> dict[str, Any]:
    """The verified claims of ``token`` or ``InvalidRequestObject``.

    ``algorithms`` is the rulebook's list (``policies/fapi.yaml`` ``algorithms.request_object``), ``skew_ahead``
    its ``clock_skew.ahead_seconds``: how far in the future ``nbf`` and ``iat`` may be.
    """
    try:
        header = jose.unverified_header(token)
    except jose.JoseError as exc:
        raise InvalidRequestObject("request is not a signed JWT") from exc
    if header.get("alg") not in algorithms or header.get("alg") not in jose.FAPI_ALGORITHMS:
        raise InvalidRequestObject(
            f"request object alg {header.get('alg')!r} is not allowed: sign it with one of {', '.join(algorithms)}"
        )
    typ = header.get("typ")
    if typ is not None and typ not in ACCEPTED_TYPES:
        raise InvalidRequestObject(f"request object typ {typ!r} is not accepted")
    try:
        key = jose.select_key(jwks, kid=header.get("kid"), alg=str(header["alg"]))
    except jose.JoseError as exc:
        raise InvalidRequestObject("no registered key of the client matches the request object") from exc
    try:
        # exp, nbf, iat and aud are checked below with the profile's own rules.
        claims = jose.verify(token, key=key, verify_exp=False)
    except jose.JoseError as exc:
        raise InvalidRequestObject(f"request object rejected: {exc}") from exc
    check_claims(claims, client_id=client_id, issuer=issuer, skew_ahead=skew_ahead, now=now)
    return claims


def check_claims(
    claims: Mapping[str, Any],
    *,
    client_id: str,
    issuer: str,
    skew_ahead: int,
    now: int | None = None,
) -> None:
    moment = int(time.time()) if now is None else now
    if claims.get("iss") != client_id:
        raise InvalidRequestObject("request object iss must be the client_id")
    if "client_id" in claims and claims["client_id"] != client_id:
        raise InvalidRequestObject("request object client_id does not match the authenticated client")
    aud = claims.get("aud")
    # FAPI 2.0 Message Signing (final) 5.3.2 (signed authorization requests, authorization server): aud shall be,
    # or be an array containing, the issuer identifier (RFC 9101 section 4). The single-string rule of FAPI 2.0
    # Security Profile 5.3.2.1 governs client authentication assertions only, so an array holding the issuer
    # is accepted here.
    if not (aud == issuer or (isinstance(aud, list) and issuer in aud and all(isinstance(a, str) for a in aud))):
        raise InvalidRequestObject("request object aud must be the issuer identifier")
    exp = _time_claim(claims, "exp")
    nbf = _time_claim(claims, "nbf")
    if exp <= moment:
        raise InvalidRequestObject("request object expired")
    if nbf > moment + skew_ahead:
        raise InvalidRequestObject("request object not yet valid")
    iat = claims.get("iat")
    if iat is not None and (not isinstance(iat, int | float) or isinstance(iat, bool) or iat > moment + skew_ahead):
        raise InvalidRequestObject("request object iat is in the future")
    if nbf < moment - MAX_NBF_AGE:
        raise InvalidRequestObject("request object nbf is more than 60 minutes in the past")
    if exp - nbf > MAX_LIFETIME:
        raise InvalidRequestObject("request object exp is more than 60 minutes after nbf")
    if "request" in claims or "request_uri" in claims:
        raise InvalidRequestObject("a request object must not contain request or request_uri")


def _time_claim(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidRequestObject(f"request object {name} is required")
    return float(value)
