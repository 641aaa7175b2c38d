"""Verification of ``x-obgw-context``: the JWT the gateway signs on every call to the bank's internal API.

Contract (``gateway.backend.bank``): RFC 7519 JWT, ``alg`` ES256 (FAPI 2.0 Security Profile section 5.4; the
sandbox's ``context_algorithms``), ``kid`` of a
key in the gateway's published JWKS (``var/keys/gateway-jwks.json``), ``iss`` = the gateway's issuer,
``aud`` = ``obgw-bank``, short ``exp``, ``jti``. The bank answers nobody else, so every doubt rejects:
missing header, unknown key (after one re-read of the JWKS, for rotation), wrong algorithm, issuer or
audience, expired, issued in the future, too long-lived, or a ``jti`` already seen.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import jwt

from sandbox.errors import ContextRequired
from sandbox.errors import InvalidContext

CONTEXT_HEADER = "x-obgw-context"
CONTEXT_AUDIENCE = "obgw-bank"
_ALG_KTY = {"PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}


class ContextVerifier:
    def __init__(
        self,
        *,
        jwks_file: Path,
        issuer: str,
        algorithms: tuple[str, ...] = ("ES256",),
        max_lifetime: int = 300,
        clock_skew: int = 10,
    ) -> None:
        self._jwks_file = jwks_file
        self._issuer = issuer
        self._algorithms = tuple(a for a in algorithms if a in _ALG_KTY)
        self._max_lifetime = max_lifetime
        self._skew = clock_skew
        self._keys: dict[str, jwt.PyJWK] = {}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def _reload(self) -> None:
        """Re-read the gateway's public JWKS (called when a ``kid`` is unknown: the gateway may have rotated)."""
        keys: dict[str, jwt.PyJWK] = {}
        try:
            data = json.loads(self._jwks_file.read_text())
            entries = data["keys"]
        except (OSError, ValueError, KeyError, TypeError):
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not entry.get("kid") or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue
        self._keys = keys

    def _key_for(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is None:
            self._reload()
            key = self._keys.get(kid)
        if key is None:
            raise InvalidContext("context token signed by an unknown key")
        return key

    def verify(self, token: str | None) -> dict[str, Any]:
        """The verified claims, or ``ContextRequired`` / ``InvalidContext`` (both 401)."""
        if not token:
            raise ContextRequired("x-obgw-context header required")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidContext("malformed context token") from exc
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise InvalidContext("context token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidContext("context token has no kid")
        key = self._key_for(kid)
        if key.key_type != _ALG_KTY[alg]:
            raise InvalidContext("context token key does not match its algorithm")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=CONTEXT_AUDIENCE,
                issuer=self._issuer,
                leeway=self._skew,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidContext("context token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidContext("context token invalid") from exc
        now = time.time()
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int | float) or not isinstance(exp, int | float):
            raise InvalidContext("context token times must be numbers")
        if iat > now + self._skew:
            raise InvalidContext("context token issued in the future")
        if exp - iat > self._max_lifetime:
            raise InvalidContext("context token lifetime too long")
        self._use_once(str(claims["jti"]), exp=float(exp))
        return dict(claims)

    def _use_once(self, jti: str, *, exp: float) -> None:
        # Single use: a captured context token cannot be replayed while it is still valid.
        now = time.time()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {j: e for j, e in self._seen.items() if e + self._skew > now}
            if jti in self._seen:
                raise InvalidContext("context token already used")
            self._seen[jti] = exp + self._skew
