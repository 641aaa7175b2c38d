"""Every JOSE operation obgw performs, so the library choice lives in one place.

RFC 7515 (JWS, with appendix F detached content), RFC 7517 (JWK), RFC 7519 (JWT), RFC 7638 (JWK thumbprint), RFC 8705 section 3.1
(``x5t#S256``). FAPI 2.0 Security Profile section 5.4: only PS256, ES256 and EdDSA are accepted.
PyJWT does signing and verification (fast, backed by ``cryptography``); jwcrypto does key generation and
thumbprints.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwcrypto import jwk as jwcrypto_jwk
from jwt.algorithms import get_default_algorithms

FAPI_ALGORITHMS: tuple[str, ...] = ("PS256", "ES256", "EdDSA")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_ALGORITHMS = {name: algorithm for name, algorithm in get_default_algorithms().items() if name in FAPI_ALGORITHMS}
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")

JWK = dict[str, Any]


class JoseError(ValueError):
    """A token or key failed a JOSE check; ``str(exc)`` is safe to show to the sender."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256_b64url(text: str | bytes) -> str:
    data = text.encode("ascii") if isinstance(text, str) else text
    return b64url(hashlib.sha256(data).digest())


def generate_key(*, alg: str = "PS256", kid: str | None = None, use: str = "sig") -> JWK:
    """A new private JWK for ``alg`` (RSA 2048 for PS256, P-256 for ES256, Ed25519 for EdDSA)."""
    if alg == "PS256":
        key = jwcrypto_jwk.JWK.generate(kty="RSA", size=2048)
    elif alg == "ES256":
        key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256")
    elif alg == "EdDSA":
        key = jwcrypto_jwk.JWK.generate(kty="OKP", crv="Ed25519")
    else:
        raise JoseError(f"unsupported algorithm {alg}")
    out: JWK = json.loads(key.export_private())
    out["kid"] = kid or thumbprint(out)
    out["alg"] = alg
    out["use"] = use
    return out


def public_jwk(key: Mapping[str, Any]) -> JWK:
    return {k: v for k, v in key.items() if k not in _PRIVATE_MEMBERS}


def is_private(key: Mapping[str, Any]) -> bool:
    return any(member in key for member in _PRIVATE_MEMBERS)


def public_jwks(keys: Iterable[Mapping[str, Any]]) -> dict[str, list[JWK]]:
    return {"keys": [public_jwk(k) for k in keys]}


def thumbprint(key: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 JWK thumbprint, base64url (the DPoP ``jkt``). A client presents the same DPoP key on
    every call, so the result is cached by the key's canonical JSON."""
    try:
        canonical = json.dumps(dict(key), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise JoseError("invalid JWK") from exc
    return _thumbprint_of(canonical)


@functools.lru_cache(maxsize=4096)
def _thumbprint_of(canonical: str) -> str:
    try:
        return str(jwcrypto_jwk.JWK(**json.loads(canonical)).thumbprint())
    except Exception as exc:  # jwcrypto raises several types for bad keys
        raise JoseError("invalid JWK") from exc


def certificate_thumbprint(der: bytes) -> str:
    """RFC 8705 section 3.1 ``x5t#S256``."""
    return b64url(hashlib.sha256(der).digest())


# Parsing a JWK into a key object is expensive (an RSA private key: about 140 ms, its consistency checks), and the
# gateway signs a bank context token on every resource call: parsed keys are kept, keyed by their full canonical
# JSON (so two different keys never share an entry), in a small bounded cache.
_KEY_CACHE_SIZE = 256
_parsed_keys: dict[str, jwt.PyJWK] = {}


def load_key(key: Mapping[str, Any]) -> jwt.PyJWK:
    cache_key = hashlib.sha256(json.dumps(dict(key), sort_keys=True, default=str).encode()).hexdigest()
    cached = _parsed_keys.get(cache_key)
    if cached is not None:
        return cached
    try:
        parsed = jwt.PyJWK(dict(key))
    except Exception as exc:
        raise JoseError("invalid JWK") from exc
    if len(_parsed_keys) >= _KEY_CACHE_SIZE:
        _parsed_keys.pop(next(iter(_parsed_keys)))
    _parsed_keys[cache_key] = parsed
    return parsed


def alg_for(key: Mapping[str, Any]) -> str:
    """The JWS alg ``key`` signs with: its ``alg`` member, else the FAPI alg of its key type."""
    if "alg" in key:
        return str(key["alg"])
    return {"RSA": "PS256", "EC": "ES256", "OKP": "EdDSA"}.get(str(key.get("kty")), "PS256")


def sign(
    claims: Mapping[str, Any],
    *,
    key: Mapping[str, Any],
    headers: Mapping[str, Any] | None = None,
    alg: str | None = None,
) -> str:
    algorithm = alg or alg_for(key)
    hdr: dict[str, Any] = {"kid": key.get("kid")} if key.get("kid") else {}
    hdr.update(headers or {})
    return jwt.encode(dict(claims), load_key({**key, "alg": algorithm}).key, algorithm=algorithm, headers=hdr)


@dataclass(frozen=True)
class SigningKey:
    """A private key parsed once, with the alg and JWS header it signs with: for what the gateway signs on every
    request (the bank context token), so no call parses a JWK or hashes it to find it in a cache."""

    key: Any  # the ``cryptography`` private key object
    alg: str
    header: Mapping[str, Any]


def signing_key(key: Mapping[str, Any], *, alg: str | None = None) -> SigningKey:
    algorithm = alg or alg_for(key)
    try:
        parsed = jwt.PyJWK({**key, "alg": algorithm}).key
    except Exception as exc:
        raise JoseError("invalid JWK") from exc
    return SigningKey(key=parsed, alg=algorithm, header={"kid": key["kid"]} if key.get("kid") else {})


def sign_with(claims: Mapping[str, Any], *, key: SigningKey) -> str:
    """``sign`` with a key prepared by ``signing_key``: the same JWS, without the per-call key lookup."""
    return jwt.encode(dict(claims), key.key, algorithm=key.alg, headers=dict(key.header))


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise JoseError("malformed JWT") from exc
    if not isinstance(header, dict):
        raise JoseError("malformed JWT header")
    return header


def unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise JoseError("malformed JWT") from exc
    return dict(claims)


def select_key(keys: Iterable[Mapping[str, Any]], *, kid: str | None, alg: str) -> Mapping[str, Any]:
    candidates = [k for k in keys if k.get("use", "sig") == "sig" and (kid is None or k.get("kid") == kid)]
    kty = {"PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}.get(alg)
    candidates = [k for k in candidates if k.get("kty") == kty]
    if not candidates:
        raise JoseError("no matching key for kid/alg")
    if kid is None and len(candidates) > 1:
        raise JoseError("kid required: several keys match")
    return candidates[0]


def verify(
    token: str,
    *,
    key: Mapping[str, Any] | jwt.PyJWK,
    algorithms: Iterable[str] = FAPI_ALGORITHMS,
    audience: str | Iterable[str] | None = None,
    issuer: str | None = None,
    require: Iterable[str] = (),
    leeway: int = 0,
    verify_exp: bool = True,
) -> dict[str, Any]:
    """Verify signature and registered claims; returns the claims or raises ``JoseError``."""
    algs = [a for a in algorithms if a in FAPI_ALGORITHMS]
    header = unverified_header(token)
    if header.get("alg") not in algs:
        raise JoseError(f"alg {header.get('alg')!r} not allowed")
    pyjwk = key if isinstance(key, jwt.PyJWK) else load_key(key)
    # verify_exp=False hands every time check (exp, iat, nbf) to the caller, which applies the profile's own
    # skew rules (docs/architecture.md section 6: 10 s ahead, 60 s old).
    options: dict[str, Any] = {
        "require": list(require),
        "verify_exp": verify_exp,
        "verify_iat": verify_exp,
        "verify_nbf": verify_exp,
        "verify_aud": audience is not None,
    }
    try:
        claims = jwt.decode(
            token,
            pyjwk.key,
            algorithms=[header["alg"]],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options=options,
        )
    except jwt.ExpiredSignatureError as exc:
        raise JoseError("token expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise JoseError("aud mismatch") from exc
    except jwt.InvalidIssuerError as exc:
        raise JoseError("iss mismatch") from exc
    except jwt.InvalidSignatureError as exc:
        raise JoseError("signature invalid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise JoseError(f"missing claim {exc.claim}") from exc
    except jwt.PyJWTError as exc:
        raise JoseError(f"invalid JWT: {exc}") from exc
    return dict(claims)


def verify_with_jwks(
    token: str,
    *,
    jwks: Iterable[Mapping[str, Any]],
    algorithms: Iterable[str] = FAPI_ALGORITHMS,
    **kwargs: Any,
) -> dict[str, Any]:
    header = unverified_header(token)
    alg = str(header.get("alg"))
    if alg not in set(algorithms) or alg not in FAPI_ALGORITHMS:
        raise JoseError(f"alg {alg!r} not allowed")
    key = select_key(jwks, kid=header.get("kid"), alg=alg)
    return verify(token, key=key, algorithms=[alg], **kwargs)


def new_jti() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- detached JWS (RFC 7515 appendix F)


@dataclass(frozen=True)
class DetachedJws:
    """A compact JWS whose payload segment was removed (``header..signature``), parsed but not verified."""

    protected: str  # the base64url protected header exactly as sent: it is part of the signing input
    header: dict[str, Any]
    signature: bytes


def parse_detached(value: str) -> DetachedJws:
    """Split ``header..signature``; raises ``JoseError`` on any other shape, bad base64url or a non-object header."""
    parts = value.split(".")
    if len(parts) != 3:
        raise JoseError("expected three dot-separated segments")
    protected, payload, signature = parts
    if payload:
        # RFC 7515 appendix F: a detached signature carries no payload segment.
        raise JoseError("payload segment must be empty in a detached signature")
    if not protected or not signature or not _B64URL.match(protected) or not _B64URL.match(signature):
        raise JoseError("segments must be non-empty base64url")
    try:
        header = json.loads(b64url_decode(protected))
        raw_signature = b64url_decode(signature)
    except (ValueError, binascii.Error) as exc:
        raise JoseError("segments are not base64url JSON") from exc
    if not isinstance(header, dict):
        raise JoseError("protected header is not a JSON object")
    return DetachedJws(protected=protected, header=header, signature=raw_signature)


def sign_detached(payload: bytes, *, key: Mapping[str, Any], header: Mapping[str, Any]) -> str:
    """``b64url(header)..b64url(signature)`` over ``b64url(header).b64url(payload)`` (RFC 7515 with the payload
    detached; ``b64`` is never used). ``header`` must name ``alg``."""
    alg = str(header.get("alg"))
    if alg not in FAPI_ALGORITHMS:
        raise JoseError(f"alg {alg!r} not allowed")
    protected = b64url(json.dumps(dict(header), separators=(",", ":")).encode())
    algorithm = _ALGORITHMS[alg]
    signature = algorithm.sign(f"{protected}.{b64url(payload)}".encode("ascii"), load_key({**key, "alg": alg}).key)
    return f"{protected}..{b64url(signature)}"


def verify_detached(jws: DetachedJws, *, payload: bytes, key: Mapping[str, Any]) -> bool:
    """Whether ``jws`` signs ``payload`` with ``key`` under the header's ``alg`` (which the caller checked)."""
    alg = str(jws.header.get("alg"))
    if alg not in FAPI_ALGORITHMS:
        return False
    if key.get("kty") != {"PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}[alg]:
        return False
    try:
        public = load_key({**public_jwk(key), "alg": alg}).key
    except JoseError:
        return False
    signing_input = f"{jws.protected}.{b64url(payload)}".encode("ascii")
    try:
        return bool(_ALGORITHMS[alg].verify(signing_input, public, jws.signature))
    except Exception:  # a wrong-sized signature raises in cryptography rather than returning False
        return False
