"""The ``x-obgw-context`` token (gateway/backend/bank.py; docs/architecture.md section 6): ES256 with the
gateway's newest context key, named by ``kid``, ``aud`` ``obgw-bank``, a 60 s life and a fresh ``jti`` on every
call, signed with the key parsed once at construction (never per call)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from gateway.backend.bank import CONTEXT_AUDIENCE
from gateway.backend.bank import Bank
from gateway.backend.upstream import Upstream
from gateway.security import jose
from gateway.security.keys import KeyStore

ISSUER = "https://gateway.example"


def _bank(keys: KeyStore) -> Bank:
    return Bank(transport=Upstream(base_url="http://127.0.0.1:9"), issuer=ISSUER, keys=keys)


def test_the_context_token_verifies_with_the_published_context_key() -> None:
    keys = KeyStore.generate_in_memory()
    token = _bank(keys).context_token(purpose="ais", consent_id="c-1")
    public = jose.public_jwk(keys.context_key)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert jwt.get_unverified_header(token)["kid"] == public["kid"]
    claims = jose.verify(token, key=public, algorithms=["ES256"], audience=CONTEXT_AUDIENCE, issuer=ISSUER)
    assert claims["purpose"] == "ais" and claims["consent_id"] == "c-1"
    assert claims["exp"] - claims["iat"] == 60


def test_the_context_token_is_refused_under_another_key() -> None:
    token = _bank(KeyStore.generate_in_memory()).context_token(purpose="ais")
    other = jose.public_jwk(KeyStore.generate_in_memory().context_key)
    with pytest.raises(jose.JoseError):
        jose.verify(token, key=other, algorithms=["ES256"], audience=CONTEXT_AUDIENCE)


def test_every_call_gets_a_fresh_jti_without_parsing_the_key_again(monkeypatch: pytest.MonkeyPatch) -> None:
    bank = _bank(KeyStore.generate_in_memory())

    def parse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the context key was parsed per call")

    monkeypatch.setattr(jose, "load_key", parse)
    monkeypatch.setattr(jwt, "PyJWK", parse)
    jtis = {jose.unverified_claims(bank.context_token(purpose="ais"))["jti"] for _ in range(50)}
    assert len(jtis) == 50
