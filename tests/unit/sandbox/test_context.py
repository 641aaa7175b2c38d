"""``x-obgw-context`` verification (``gateway.backend.bank`` contract): only a short-lived ES256 JWT from the gateway's
published keys, for ``aud`` obgw-bank and the gateway's issuer, used once. Every other token is refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from gateway.security.keys import KeyStore
from sandbox.context import ContextVerifier
from sandbox.directory import generate_signing_key
from sandbox.errors import ContextRequired
from sandbox.errors import InvalidContext

ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
def verifier(var_dir: Path) -> ContextVerifier:
    return ContextVerifier(jwks_file=var_dir / "keys" / "gateway-jwks.json", issuer=ISSUER)


def token(key: dict[str, Any], **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": "obgw-bank", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, jwt.PyJWK(key).key, algorithm=key["alg"], headers={"kid": key["kid"]})


def test_gateway_token_is_accepted(verifier: ContextVerifier, gateway_keys: KeyStore) -> None:
    claims = verifier.verify(token(gateway_keys.context_key, purpose="x"))
    assert claims["purpose"] == "x"


def test_missing_token_is_refused(verifier: ContextVerifier) -> None:
    with pytest.raises(ContextRequired) as info:
        verifier.verify(None)
    assert (info.value.status_code, info.value.code) == (401, "context_required")


@pytest.mark.parametrize(
    "changes",
    [
        # Callables: time claims are computed when the test runs, not when the table is collected.
        lambda: {"aud": "someone-else"},
        lambda: {"iss": "http://evil.example"},
        lambda: {"exp": int(time.time()) - 120, "iat": int(time.time()) - 180},
        lambda: {"iat": int(time.time()) + 600, "exp": int(time.time()) + 660},
        lambda: {"exp": int(time.time()) + 3600},
        lambda: {"jti": None},
    ],
    ids=["wrong-aud", "wrong-iss", "expired", "future-iat", "too-long-lived", "no-jti"],
)
def test_bad_claims_are_refused(
    verifier: ContextVerifier, gateway_keys: KeyStore, changes: Callable[[], dict[str, Any]]
) -> None:
    with pytest.raises(InvalidContext) as info:
        verifier.verify(token(gateway_keys.context_key, **changes()))
    assert (info.value.status_code, info.value.code) == (401, "invalid_context")


def test_token_from_an_unknown_key_is_refused(verifier: ContextVerifier) -> None:
    with pytest.raises(InvalidContext) as info:
        verifier.verify(token(generate_signing_key(alg="ES256")))
    assert info.value.code == "invalid_context"


def test_token_cannot_be_replayed(verifier: ContextVerifier, gateway_keys: KeyStore) -> None:
    once = token(gateway_keys.context_key)
    verifier.verify(once)
    with pytest.raises(InvalidContext) as info:
        verifier.verify(once)
    assert info.value.code == "invalid_context"


def test_a_symmetric_algorithm_is_refused(verifier: ContextVerifier, gateway_keys: KeyStore) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "obgw-bank", "iat": now, "exp": now + 60, "jti": "j"}
    forged = jwt.encode(claims, "secret-secret-secret-secret-32b!", algorithm="HS256",
                        headers={"kid": gateway_keys.context_key["kid"]})
    with pytest.raises(InvalidContext) as info:
        verifier.verify(forged)
    assert info.value.code == "invalid_context"


def test_rotated_gateway_key_is_found_by_rereading_the_jwks(
    verifier: ContextVerifier, gateway_keys: KeyStore, var_dir: Path
) -> None:
    verifier.verify(token(gateway_keys.context_key))
    newer = generate_signing_key(alg="ES256")
    KeyStore(keys=(*gateway_keys.keys, newer), sandbox=True).save(var_dir / "keys")
    assert verifier.verify(token(newer))["aud"] == "obgw-bank"


def test_a_gateway_key_of_another_algorithm_is_refused(verifier: ContextVerifier, gateway_keys: KeyStore) -> None:
    # The gateway's PS256 key is published in the same JWKS, but context tokens are ES256 only.
    with pytest.raises(InvalidContext, match="algorithm not allowed"):
        verifier.verify(token(gateway_keys.current))
