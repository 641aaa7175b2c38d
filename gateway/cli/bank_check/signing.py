"""The consent-context tokens the kit sends (``openapi/bank-backend.yaml`` description, "The consent context"):
the good one the gateway signs, and the bad ones a bank's adapter must refuse.

Signed with a private JWK: the gateway's newest context key (``gateway.security.keys.KeyStore.context_key``,
from ``OBGW_VAR_DIR``) by default, or one given with ``--key``; the adapter trusts its public half by the
gateway's published JWKS (docs/bank-integration.md section 2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.backend.bank import context_claims
from gateway.security import jose


class ContextSigner:
    def __init__(self, *, key: Mapping[str, Any], issuer: str) -> None:
        if not key.get("kid"):
            raise ValueError("the signing key needs a kid (the adapter finds the public key by it)")
        self._key = dict(key)
        self.issuer = issuer

    @property
    def kid(self) -> str:
        return str(self._key["kid"])

    def claims(self, **claims: Any) -> dict[str, Any]:
        return context_claims(issuer=self.issuer, **claims)

    def token(self, **claims: Any) -> str:
        """A context token as the gateway signs it (ES256, this key's ``kid``), with ``claims`` over the defaults."""
        return jose.sign(self.claims(**claims), key=self._key)

    def forged(self, **claims: Any) -> str:
        """The same token signed by another key that claims this key's ``kid``: its signature does not verify."""
        impostor = {**jose.generate_key(alg=jose.alg_for(self._key)), "kid": self.kid}
        return jose.sign(self.claims(**claims), key=impostor)

    def unsigned(self, **claims: Any) -> str:
        """The same claims with ``alg`` ``none`` (RFC 7519 section 6): never to be accepted."""
        def part(value: Mapping[str, Any]) -> str:
            return jose.b64url(json.dumps(value).encode())

        return f"{part({'alg': 'none', 'kid': self.kid})}.{part(self.claims(**claims))}."
