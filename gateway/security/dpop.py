"""DPoP proofs (RFC 9449), at the token endpoint, PAR and resource servers.

Section 4.3 checks, in order: one ``DPoP`` header; a JWS with ``typ: dpop+jwt``, an allowed ``alg``
(FAPI 2.0: PS256, ES256, EdDSA) and a public ``jwk`` whose signature verifies; ``jti``, ``htm`` (the
request method), ``htu`` (the public URL without query and fragment), ``iat`` within 10 s ahead / 60 s old
(docs/architecture.md section 6), ``ath`` when an access token is presented; ``jti`` single use within the
window (section 11.1); server nonces (section 8) when ``OBGW_DPOP_NONCE_REQUIRED`` is on.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

from starlette.requests import Request

from gateway.errors import InvalidDpopProof
from gateway.errors import UseDpopNonce
from gateway.security import jose
from gateway.services import Services

NONCE_WINDOW = 300


@dataclass(frozen=True)
class DpopProof:
    jkt: str
    jwk: dict[str, Any]
    claims: dict[str, Any]


def current_nonce(secret: bytes, *, now: float | None = None) -> str:
    """A stateless nonce: HMAC of the time window, so every replica with the same secret accepts it."""
    window = int((now if now is not None else time.time()) // NONCE_WINDOW)
    return _nonce(secret, window)


def _nonce(secret: bytes, window: int) -> str:
    return jose.b64url(hmac.new(secret, f"dpop-nonce:{window}".encode(), hashlib.sha256).digest()[:24])


def _nonce_valid(secret: bytes, nonce: str, *, now: float) -> bool:
    window = int(now // NONCE_WINDOW)
    return any(hmac.compare_digest(nonce, _nonce(secret, w)) for w in (window, window - 1))


def public_url(request: Request, *, issuer: str) -> str:
    """The ``htu`` a client should have signed: the public issuer origin plus the path (section 4.3)."""
    return issuer + request.url.path


def _same_uri(htu: object, expected: str) -> bool:
    """RFC 9449 section 4.3 with RFC 3986 section 6.2.2 normalisation: case-insensitive scheme and host,
    percent-encoding decoded, query and fragment ignored."""
    if not isinstance(htu, str) or len(htu) > 4096:
        return False
    parts = urlsplit(htu)
    wanted = urlsplit(expected)
    return (
        parts.scheme.lower() == wanted.scheme.lower()
        and parts.netloc.lower() == wanted.netloc.lower()
        and unquote(parts.path) == wanted.path
    )


async def check_dpop_proof(
    request: Request, *, services: Services, access_token: str | None = None
) -> DpopProof | None:
    """The verified proof, ``None`` when no ``DPoP`` header was sent, or ``InvalidDpopProof``."""
    values = request.headers.getlist("dpop")
    if not values:
        return None
    if len(values) != 1:
        raise InvalidDpopProof("exactly one DPoP header is allowed")
    settings = services.settings
    proof = values[0]
    try:
        header = jose.unverified_header(proof)
    except jose.JoseError as exc:
        raise InvalidDpopProof("DPoP proof is not a JWT") from exc
    if header.get("typ") != "dpop+jwt":
        raise InvalidDpopProof("DPoP proof typ must be dpop+jwt")
    allowed = services.policies.fapi.algorithms["dpop_proof"]
    if header.get("alg") not in allowed or header.get("alg") not in jose.FAPI_ALGORITHMS:
        raise InvalidDpopProof(f"DPoP proof alg not allowed: use one of {', '.join(allowed)}")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or jose.is_private(jwk):
        raise InvalidDpopProof("DPoP proof must carry a public jwk")
    try:
        claims = jose.verify(proof, key=jwk, algorithms=[header["alg"]], verify_exp=False)
        jkt = jose.thumbprint(jwk)
    except jose.JoseError as exc:
        raise InvalidDpopProof(f"DPoP proof signature invalid: {exc}") from exc

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidDpopProof("DPoP proof jti missing")
    if claims.get("htm") != request.method:
        raise InvalidDpopProof("DPoP proof htm does not match the request method")
    if not _same_uri(claims.get("htu"), public_url(request, issuer=settings.issuer)):
        raise InvalidDpopProof("DPoP proof htu does not match the request URL")
    now = time.time()
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise InvalidDpopProof("DPoP proof iat missing")
    fapi = services.policies.fapi  # clock_skew in policies/fapi.yaml
    if iat > now + fapi.clock_skew_ahead or iat < now - fapi.max_proof_age:
        raise InvalidDpopProof("DPoP proof iat outside the accepted window")
    if access_token is not None:
        if claims.get("ath") != jose.sha256_b64url(access_token):
            raise InvalidDpopProof("DPoP proof ath does not match the access token")
    elif "ath" in claims and request.url.path in ("/token", "/par"):
        raise InvalidDpopProof("DPoP proof ath not expected here")
    if settings.dpop_nonce_required:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not _nonce_valid(services.secret, nonce, now=now):
            raise UseDpopNonce(current_nonce(services.secret, now=now))
    ttl = fapi.max_proof_age + fapi.clock_skew_ahead
    if not await services.single_use.claim(f"dpop:{jkt}:{jti}", ttl=ttl):
        raise InvalidDpopProof("DPoP proof jti already used")
    return DpopProof(jkt=jkt, jwk=jwk, claims=claims)
