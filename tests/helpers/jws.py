"""A TPP's OBIE ``x-jws-signature`` (R/W API v3.1.11 "Message Signing"), written out from the profile rather than
through the gateway's code: PS256 over ``b64url(header) "." b64url(body)``, payload detached.

``header_changes`` adds or replaces protected-header members (``None`` removes one), so tests can build every
broken shape the verifier must refuse.
"""

from __future__ import annotations

import base64
import json
import time
from functools import cache
from typing import Any

import jwt
from jwt.algorithms import RSAPSSAlgorithm

IAT = "http://openbanking.org.uk/iat"
ISS = "http://openbanking.org.uk/iss"
TAN = "http://openbanking.org.uk/tan"
TRUST_ANCHOR = "openbanking.org.uk"
_PS256 = RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256)


@cache
def _shared_key() -> dict[str, Any]:
    from jwcrypto import jwk

    key = jwk.JWK.generate(kty="RSA", size=2048)
    out: dict[str, Any] = json.loads(key.export_private())
    out.update(kid=key.thumbprint(), alg="PS256", use="sig")
    return out


def signing_key() -> dict[str, Any]:
    """A PS256 private JWK (one per test run: RSA generation is slow and not what tests are about)."""
    return dict(_shared_key())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tpp_header(*, kid: str, issuer: str, **header_changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "alg": "PS256", "kid": kid, "typ": "JOSE", "cty": "application/json",
        IAT: int(time.time()) - 1, ISS: issuer, TAN: TRUST_ANCHOR, "crit": [IAT, ISS, TAN],
    }
    for name, value in header_changes.items():
        name = {"iat": IAT, "iss": ISS, "tan": TAN}.get(name, name)
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    return header


def detached(body: bytes, *, key: dict[str, Any], header: dict[str, Any]) -> str:
    """``header..signature``; the header is signed exactly as given (whatever its ``alg`` says, PS256 is used)."""
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    signature = _PS256.sign(f"{protected}.{b64url(body)}".encode(), jwt.PyJWK({**key, "alg": "PS256"}).key)
    return f"{protected}..{b64url(signature)}"


def sign_body(body: bytes, *, key: dict[str, Any], issuer: str, **header_changes: Any) -> str:
    changes = {"kid": key["kid"], **header_changes}
    kid = changes.pop("kid")
    header = tpp_header(kid=kid or "", issuer=issuer, **changes)
    if kid is None:
        header.pop("kid")
    return detached(body, key=key, header=header)


def verify_detached(value: str, *, body: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check a detached PS256 JWS against a published JWKS; returns its protected header or raises AssertionError."""
    protected, payload, signature = value.split(".")
    assert payload == "", "payload segment must be detached"
    header = json.loads(b64url_decode(protected))
    assert header["alg"] == "PS256"
    assert "b64" not in header
    assert sorted(header["crit"]) == sorted([IAT, ISS, TAN])
    keys = [k for k in jwks["keys"] if k.get("kid") == header["kid"]]
    assert len(keys) == 1, f"kid {header['kid']} not in the JWKS"
    public = jwt.PyJWK({**keys[0], "alg": "PS256"}).key
    assert _PS256.verify(f"{protected}.{b64url(body)}".encode(), public, b64url_decode(signature)), "bad signature"
    return dict(header)
